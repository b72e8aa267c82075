"""Rule-based entity extraction: order ids, phones, units, amounts, dates/times, e-mails, keywords.

Every extractor works on the normalised text (NFKC, lower case, Traditional→Simplified one
character at a time; see :mod:`bot.nlu.normalize`) so one Simplified pattern serves both scripts,
and reports ``start``/``end`` on the raw text. Entities come out in Rasa's shape::

    {"entity": "unit", "value": {...}, "start": 0, "end": 9, "extractor": "KefuUnitExtractor"}

Nothing here raises on bad input: :func:`extract_entities` returns ``[]`` at worst.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import cn2an
import phonenumbers

from bot.nlu.normalize import normalize, normalize_with_map, raw_span, to_traditional
from bot.nlu.references import references
from bot.nlu.windows import window

log = logging.getLogger(__name__)

# Entities scan at most this many characters of a message: enough for any real message, and it
# bounds the worst case on pathological input.
ENTITY_SCAN_CHARS = 2000
# No real message holds more phone numbers, dates or flats than this; the cap bounds the cost of
# expensive parsing (phonenumbers, date arithmetic) on junk.
MAX_PER_KIND = 20

_CN_DIGITS = "零〇一二两三四五六七八九十"
_CN_NUM = f"[{_CN_DIGITS}百千万亿点壹贰叁肆伍陆柒捌玖拾佰仟]+"
_CN_SMALL = f"[{_CN_DIGITS}]{{1,3}}"


@lru_cache(maxsize=2048)
def cn_number(text: str) -> float | None:
    """``一千五百`` → 1500.0, ``三点五`` → 3.5, ``15`` → 15.0; None if not a number."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        pass
    try:
        return float(cn2an.cn2an(text, "smart"))
    except Exception:  # cn2an raises ValueError and friends on odd input
        return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    value = cn_number(text)
    if value is None or value != int(value):
        return None
    return int(value)


class _Spans:
    """Which characters are already taken by a kept match (linear, not pairwise, overlap test)."""

    def __init__(self) -> None:
        self.taken = bytearray()

    def claim(self, start: int, end: int) -> bool:
        """Take ``[start, end)`` if none of it is taken; return whether it was free."""
        if end > len(self.taken):
            self.taken.extend(bytes(end - len(self.taken)))
        if self.taken.find(1, start, end) != -1:
            return False
        self.taken[start:end] = b"\x01" * (end - start)
        return True


@dataclass
class _Candidate:
    start: int
    end: int
    priority: int
    entity: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# e-mail, order id, phone


_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}")

_NOT_ORDER_PREFIX = frozenset(
    {"rm", "hk", "us", "nt", "no", "tel", "fps", "flat", "room", "unit", "blk", "apt", "ph", "fax"}
)
_ORDER_PATTERNS = [
    # SO88412, SO-2026-1130-006 (read whole), SO 2026 1130 006 (three groups or more: fewer
    # spaced groups are usually a word and a phone number, "call 9123 4567")
    re.compile(
        r"(?<![a-z0-9])([a-z]{1,4})(?:-?(\d{2,20}(?:-\d{2,20})*)|\s(\d{2,8}(?:\s\d{2,8}){2,}))"
        r"(?![a-z0-9])"
    ),
    re.compile(r"#\s?([a-z]{0,4}\d{3,20})(?![a-z0-9])"),
    re.compile(r"(?<![\d\-])(\d{8}-\d{3,8})(?![\d\-])"),
    re.compile(
        r"(?:订单编?号?|单号|编号|order\s*(?:no\.?|number|id|#)?)"
        r"\s*(?:是|系|:|：|#)?\s*(\d{5,20})(?![\d])"
    ),
]
# Kefu's own ticket numbers (R-20261202-0002) are no order numbers.
_TICKET_NUMBER = re.compile(r"[rc]-\d{8}-\d{4}")


def _order_ids(norm: str) -> list[_Candidate]:
    out: list[_Candidate] = []
    for number, pattern in enumerate(_ORDER_PATTERNS):
        for match in pattern.finditer(norm):
            if number == 0:
                letters, dashed, spaced = match.groups()
                digits = re.sub(r"\D", "", dashed or spaced)
                if (
                    letters in _NOT_ORDER_PREFIX
                    or len(digits) < 4
                    or _TICKET_NUMBER.match(norm, match.start())
                ):
                    continue
                if len(letters) == 1 and len(digits) < 6:
                    continue
                start, end = match.start(), match.end()
                # As written, except that spaces become the dashes a shop would print.
                value = (match.group(0) if dashed else f"{letters}-{spaced}").upper()
                value = value.replace(" ", "-")
            elif number == 1:
                start, end = match.start(), match.end()
                value = match.group(1).upper()
            else:
                start, end = match.start(1), match.end(1)
                value = match.group(1).upper()
            out.append(
                _Candidate(
                    start,
                    end,
                    1,
                    {"entity": "order_id", "value": value, "extractor": "KefuOrderIdExtractor"},
                )
            )
    return out


_PHONE_CANDIDATE = re.compile(r"(?<![\da-z+#\-])\+?\(?\d[\d\s\-()]{5,20}\d(?![\da-z])")
_DIGIT = re.compile(r"\d")


def parse_phone(text: str, region: str = "HK") -> str | None:
    """Parse one phone number (HK/CN/TW or international) into E.164, or None if not valid."""
    if not isinstance(text, str) or not isinstance(region, str):
        return None
    return _parse_phone(text[:64], region)


@lru_cache(maxsize=2048)
def _parse_phone(text: str, region: str) -> str | None:
    candidate = normalize(text[:64]).strip()
    digits = "".join(_DIGIT.findall(candidate))
    if not 7 <= len(digits) <= 16:
        return None
    attempts: list[tuple[str, str | None]] = []
    if candidate.startswith("+") or candidate.startswith("00"):
        attempts.append((candidate, None))
    else:
        seen: list[str] = []
        for r in (region.upper() if region else "HK", "HK", "CN", "TW"):
            if r not in seen:
                seen.append(r)
                attempts.append((candidate, r))
        attempts.append(("+" + digits, None))
    for number, reg in attempts:
        try:
            parsed = phonenumbers.parse(number, reg)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return None


def _phones(norm: str, region: str) -> list[_Candidate]:
    out: list[_Candidate] = []
    for match in itertools.islice(_PHONE_CANDIDATE.finditer(norm), MAX_PER_KIND):
        raw = match.group(0)
        value = parse_phone(raw, region)
        if value is None:
            continue
        out.append(
            _Candidate(
                match.start(),
                match.end(),
                5,
                {"entity": "phone", "value": value, "extractor": "KefuPhoneExtractor"},
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# amount

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CURRENCY_PREFIX = {
    "hk$": "HKD",
    "hkd": "HKD",
    "港币": "HKD",
    "us$": "USD",
    "usd": "USD",
    "nt$": "TWD",
    "ntd": "TWD",
    "twd": "TWD",
    "rmb": "CNY",
    "cny": "CNY",
    "¥": "CNY",
    "人民币": "CNY",
    "$": None,
}
_CURRENCY_SUFFIX = {
    "港币": "HKD",
    "港元": "HKD",
    "港纸": "HKD",
    "蚊鸡": "HKD",
    "蚊": "HKD",
    "hkd": "HKD",
    "人民币": "CNY",
    "块钱": "CNY",
    "块": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "美元": "USD",
    "美金": "USD",
    "usd": "USD",
    "新台币": "TWD",
    "台币": "TWD",
    "twd": "TWD",
    "ntd": "TWD",
    "元": None,
    "圆": None,
    "dollars": None,
    "dollar": None,
}


def _alternation(keys: Iterable[str]) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))


_AMOUNT_PREFIX = re.compile(
    rf"(?<![a-z])({_alternation(_CURRENCY_PREFIX)})\s?({_NUMBER})(\s?[kK千万])?(?![\d])"
)
_AMOUNT_SUFFIX = re.compile(
    # not inside a longer number; a plain comma before is fine (，880元 becomes ,880元 by NFKC)
    rf"(?<![\d.])(?<!\d,)({_NUMBER}(?:\s?[k千万])?|{_CN_NUM})\s?"
    rf"({_alternation(_CURRENCY_SUFFIX)})"
    r"(?![a-z])"
)


def _amount_value(number: str, multiplier: str | None) -> float | None:
    value = cn_number(number)
    if value is None:
        return None
    mult = (multiplier or "").strip()
    if mult == "k" or mult == "千":
        value *= 1000
    elif mult == "万":
        value *= 10000
    return round(value, 2)


def _amounts(norm: str) -> list[_Candidate]:
    out: list[_Candidate] = []
    for match in _AMOUNT_PREFIX.finditer(norm):
        value = _amount_value(match.group(2), match.group(3))
        if value is None:
            continue
        currency = _CURRENCY_PREFIX[match.group(1)]
        out.append(_Candidate(match.start(), match.end(), 2, _amount_entity(value, currency)))
    for match in _AMOUNT_SUFFIX.finditer(norm):
        number = match.group(1)
        mult = None
        tail = number[-1:]
        if tail in "k千万" and re.search(r"\d", number):
            number, mult = number[:-1].strip(), tail
        value = _amount_value(number, mult)
        if value is None:
            continue
        currency = _CURRENCY_SUFFIX[match.group(2)]
        out.append(_Candidate(match.start(), match.end(), 2, _amount_entity(value, currency)))
    return out


def _amount_entity(value: float, currency: str | None) -> dict[str, Any]:
    return {
        "entity": "amount",
        "value": {"value": float(value), "currency": currency},
        "extractor": "KefuAmountExtractor",
    }


# ---------------------------------------------------------------------------------------------
# unit (block / unit / floor / room)

_NUM_OR_LETTER = rf"(?:[a-z]\d{{0,2}}|\d{{1,3}}[a-z]?|{_CN_SMALL})"
# An English flat/block value: with a digit (12B, 3, A1), or one letter standing alone
# ("Block C", not "blocks" / "block my").
_EN_VALUE = r"([a-z]?\d{1,4}[a-z]?|(?<=[\s.#])[a-z])(?![a-z0-9])"
_UNIT_ATOMS: list[tuple[str, re.Pattern[str]]] = [
    # 3-2-1502 (mainland block-entrance-room shorthand)
    ("triple", re.compile(r"(?<![\d\-/])(\d{1,3})-(\d{1,2})-(\d{3,4})(?![\d\-/])")),
    ("block", re.compile(rf"(?:第)?({_NUM_OR_LETTER})\s?(号楼|栋|幢|座|期楼)")),
    (
        "block",
        re.compile(r"(?<![a-z])(?:block|blk|tower|bldg|building)\.?\s?" + _EN_VALUE),
    ),
    ("unit", re.compile(rf"({_NUM_OR_LETTER})\s?单元")),
    ("unit", re.compile(r"(?<![a-z])unit\s?#?\s?" + _EN_VALUE)),
    # 5樓之2 (Taiwan): floor 5, flat 2
    ("floor_of", re.compile(r"(\d{1,3})\s?(?:楼|层)之(\d{1,3})")),
    ("floor", re.compile(rf"(\d{{1,3}}|{_CN_SMALL}|[gm])\s?(?:楼|层|/f|樓)(?!梯|宇|盘|主)")),
    ("floor", re.compile(r"(?<![a-z0-9])(\d{1,3}|g)\s?/\s?f(?![a-z])")),
    ("floor", re.compile(r"(?<![a-z0-9])(\d{1,3})(?:st|nd|rd|th)?\s?(?:floor|fl)(?![a-z])")),
    ("floor", re.compile(r"(?<![a-z])(?:floor|level)\s?(\d{1,3})(?![\d])")),
    ("room", re.compile(r"(?<![\d])([a-z]?\d{1,5}[a-z]?|[a-z])\s?(?:室|号房|房|号铺|铺|号单位)")),
    (
        "room",
        re.compile(r"(?<![a-z])(?:flat|room|rm|apt|apartment|suite)\.?\s?#?\s?" + _EN_VALUE),
    ),
]
# Common areas: a fault there needs no flat, the place is the location (with its block or floor
# when given: 「7座地下大堂」). Kept as written (normalised) and shown back so. Matching only.
_COMMON_AREAS = (
    "电梯大堂",
    "升降机大堂",
    "地下大堂",
    "大堂",
    "大厅",
    "䢂口",
    "电梯口",
    "走廊",
    "走道",
    "走火通道",
    "停车场",
    "车场",
    "地库",
    "后楼梯",
    "楼梯",
    "天台",
    "平台",
    "会所",
    "垃圾房",
    "lift lobby",
    "elevator lobby",
    "lobby",
    "corridor",
    "hallway",
    "car park",
    "carpark",
    "parking lot",
    "staircase",
    "stairwell",
    "rooftop",
    "clubhouse",
    "refuse room",
)
_UNIT_ATOMS.append(
    ("area", re.compile(rf"(?<![a-z])({_alternation(_COMMON_AREAS)})(?![a-z])")),
)
_BARE_ROOM = re.compile(r"[\s\-]?(\d{3,4}[a-z]?)(?![\d])")
_UNIT_GAP = re.compile(r"^[\s,，、的/\-]*$")


def _clean_part(text: str) -> str | None:
    text = text.strip().upper()
    if not text:
        return None
    if re.fullmatch(f"[{_CN_DIGITS}]+", text):
        number = _int(text)
        return str(number) if number is not None else None
    if text.isdigit():
        return str(int(text))
    return text


def _block_word(block: str, match: re.Match[str]) -> str | None:
    """The user's own word for a block when it is not the one Kefu would show anyway: Hong Kong
    writes 「7座」 where the mainland writes 「7栋」, and an address shown back keeps it."""
    if match.group(0).startswith("tower"):
        return "tower"
    word = match.group(2) if match.re.groups >= 2 else None
    if word == "座" and block.isdigit():
        return word
    if word in ("栋", "幢") and not block.isdigit():
        return "栋"
    return None


def _derive_floor(room: str | None) -> str | None:
    """``1502`` → ``15``; ``603`` → ``6``; ``12B`` → ``12``."""
    if not room:
        return None
    match = re.fullmatch(r"(\d{3,4})", room)
    if match:
        return str(int(room[:-2]))
    match = re.fullmatch(r"(\d{1,2})[A-Z]", room)
    if match:
        return str(int(match.group(1)))
    return None


def _unit_atoms(norm: str) -> list[tuple[int, int, str, dict[str, str | None]]]:
    atoms: list[tuple[int, int, str, dict[str, str | None]]] = []
    for kind, pattern in _UNIT_ATOMS:
        for match in pattern.finditer(norm):
            if kind == "floor_of":
                parts = {"floor": _clean_part(match.group(1)), "room": _clean_part(match.group(2))}
            elif kind == "triple":
                parts = {
                    "block": _clean_part(match.group(1)),
                    "unit": _clean_part(match.group(2)),
                    "room": _clean_part(match.group(3)),
                }
            elif kind == "area":
                parts = {"area": match.group(1)}
            else:
                value = _clean_part(match.group(1))
                if value is None:
                    continue
                parts = {kind: value}
                if kind == "block":
                    word = _block_word(value, match)
                    if word:
                        parts["block_word"] = word
            atoms.append((match.start(), match.end(), kind, parts))
    # keep the longest atom where they overlap
    atoms.sort(key=lambda a: (-(a[1] - a[0]), a[0]))
    spans = _Spans()
    kept = [atom for atom in atoms if spans.claim(atom[0], atom[1])]
    kept.sort(key=lambda a: a[0])
    return kept


def _units(norm: str) -> list[_Candidate]:
    atoms = _unit_atoms(norm)
    groups: list[tuple[int, int, dict[str, str | None]]] = []
    for start, end, _kind, parts in atoms:
        if groups:
            g_start, g_end, g_parts = groups[-1]
            gap = norm[g_end:start]
            if _UNIT_GAP.match(gap) and not any(g_parts.get(k) for k in parts):
                g_parts.update(parts)
                groups[-1] = (g_start, end, g_parts)
                continue
        groups.append((start, end, dict(parts)))
    out: list[_Candidate] = []
    for start, end, parts in groups[:MAX_PER_KIND]:
        if not parts.get("room") and (parts.get("block") or parts.get("unit")):
            bare = _BARE_ROOM.match(norm, end)
            if bare and norm[bare.end() : bare.end() + 1] not in (
                "号",
                "元",
                "块",
                "蚊",
                "点",
                "$",
            ):
                parts["room"] = _clean_part(bare.group(1))
                end = bare.end()
        value = {k: parts.get(k) for k in ("block", "unit", "floor", "room")}
        if parts.get("block_word") and value["block"]:
            value["block_word"] = parts["block_word"]
        if parts.get("area"):
            value["area"] = parts["area"]
        if not value["floor"]:
            value["floor"] = _derive_floor(value["room"])
        out.append(
            _Candidate(
                start, end, 3, {"entity": "unit", "value": value, "extractor": "KefuUnitExtractor"}
            )
        )
    return out


def parse_unit(text: str) -> dict[str, str | None] | None:
    """Parse a flat address into ``{"block", "unit", "floor", "room"}`` (absent parts None)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        norm = normalize(text[:ENTITY_SCAN_CHARS])
        units = _units(norm)
    except Exception:
        log.exception("unit parser failed")
        return None
    if not units:
        return None
    best = max(units, key=lambda c: c.end - c.start)
    value: dict[str, str | None] = best.entity["value"]
    return value


_UNIT_WORDS = {
    "zh-Hant": {
        "block_digit": "棟",
        "block_letter": "座",
        "unit": "單元",
        "floor": "樓",
        "room": "室",
    },
    "zh-Hans": {
        "block_digit": "栋",
        "block_letter": "座",
        "unit": "单元",
        "floor": "楼",
        "room": "室",
    },
}


def _block_suffix(block: str, word: Any, language: str) -> str:
    """座 stays 座 (棟 stays 棟) when the user wrote it; else 棟 for numbers, 座 for letters."""
    words = _UNIT_WORDS[language]
    if isinstance(word, str) and word not in ("", "tower"):
        return to_traditional(word) if language == "zh-Hant" else word
    return words["block_digit"] if block.isdigit() else words["block_letter"]


def format_unit(value: Mapping[str, Any] | None, language: str) -> str:
    """Render a unit: ``3棟2單元1502室`` / ``3栋2单元1502室`` / ``Block 3, Unit 2, Room 1502``."""
    if not value:
        return ""
    block, unit, floor, room, area = (
        str(value[k]) if value.get(k) not in (None, "") else None
        for k in ("block", "unit", "floor", "room", "area")
    )
    floor_shown = floor if floor and floor != _derive_floor(room) else None
    if language in _UNIT_WORDS:
        words = _UNIT_WORDS[language]
        text = ""
        if block:
            text += block + _block_suffix(block, value.get("block_word"), language)
        if unit:
            text += unit + words["unit"]
        if floor_shown:
            text += floor_shown + words["floor"]
        if room:
            text += room + words["room"]
        if area:
            text += to_traditional(area) if language == "zh-Hant" else area
        return text
    floor_text = None
    if floor_shown:
        floor_text = "G/F" if floor_shown == "G" else f"{floor_shown}/F"
    block_en = "Tower" if value.get("block_word") == "tower" else "Block"
    if room and not unit and (not room.isdigit() or len(room) <= 2):
        # Hong Kong style, smallest first: "Flat A, 12/F, Block B".
        hk = [f"Flat {room}", floor_text, f"{block_en} {block}" if block else None]
        return ", ".join(p for p in hk if p)
    parts = []
    if block:
        parts.append(f"{block_en} {block}")
    if unit:
        parts.append(f"Unit {unit}")
    if floor_text:
        parts.append(floor_text)
    if room:
        parts.append(f"Room {room}")
    if area:
        parts.append(area)
    return ", ".join(parts)


def unit_key(value: Mapping[str, Any] | None) -> str:
    """A canonical key so that two spellings of the same flat compare equal."""
    if not value:
        return ""
    parts: dict[str, str] = {}
    for key in ("block", "unit", "floor", "room"):
        raw = value.get(key)
        part = _clean_part(str(raw)) if raw not in (None, "") else None
        parts[key] = part or ""
    if not parts["floor"]:
        parts["floor"] = _derive_floor(parts["room"]) or ""
    return "B{block}|U{unit}|F{floor}|R{room}".format(**parts)


# ---------------------------------------------------------------------------------------------
# date and time

_WEEKDAYS_ZH = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}
_WEEKDAYS_EN = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
_MONTHS_EN = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH_RE = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_REL_DAYS = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "明天": 1,
    "明日": 1,
    "听日": 1,
    "tomorrow": 1,
    "tmr": 1,
    "tmrw": 1,
    "tomorow": 1,
    "后天": 2,
    "后日": 2,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "大后天": 3,
    "大后日": 3,
    "昨天": -1,
    "昨日": -1,
    "寻日": -1,
    "琴日": -1,
    "yesterday": -1,
}
# part of day -> (representative hour, meridiem: "am", "pm" or "noon")
_PARTS = {
    "凌晨": (2, "am"),
    "清晨": (7, "am"),
    "早上": (9, "am"),
    "早晨": (9, "am"),
    "朝早": (9, "am"),
    "上午": (9, "am"),
    "上昼": (9, "am"),
    "中午": (12, "noon"),
    "晏昼": (14, "pm"),
    "下午": (14, "pm"),
    "下昼": (14, "pm"),
    "傍晚": (18, "pm"),
    "晚上": (19, "pm"),
    "夜晚": (20, "pm"),
    "夜里": (21, "pm"),
    "晚黑": (19, "pm"),
    "夜间": (21, "pm"),
    "morning": (9, "am"),
    "in the morning": (9, "am"),
    "afternoon": (14, "pm"),
    "in the afternoon": (14, "pm"),
    "evening": (19, "pm"),
    "in the evening": (19, "pm"),
    "night": (20, "pm"),
    "at night": (20, "pm"),
    "noon": (12, "noon"),
    "midday": (12, "noon"),
}
# day + part in one word
_DAY_PARTS = {
    "今晚": (0, "晚上"),
    "明晚": (1, "晚上"),
    "听晚": (1, "晚上"),
    "今朝": (0, "早上"),
    "琴晚": (-1, "晚上"),
    "寻晚": (-1, "晚上"),
    "昨晚": (-1, "晚上"),
    "听朝": (1, "早上"),
    "明早": (1, "早上"),
    "tonight": (0, "evening"),
    "this morning": (0, "morning"),
    "this afternoon": (0, "afternoon"),
    "this evening": (0, "evening"),
}

_DT_ATOMS: list[tuple[str, re.Pattern[str]]] = [
    ("daypart", re.compile(rf"(?<![a-z])({_alternation(_DAY_PARTS)})(?![a-z])")),
    ("rel", re.compile(rf"(?<![a-z])({_alternation(_REL_DAYS)})(?![a-z])")),
    ("weekday_zh", re.compile(r"(下下|下|这|今|本|上)?个?(?:周|星期|礼拜)([一二三四五六日天1-7])")),
    (
        "weekday_en",
        re.compile(
            r"(?<![a-z])(?:(next|this|coming)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday"
            r"|sunday|tues?|thu(?:rs?)?|fri|mon|wed|sat|sun)\.?(?![a-z])"
        ),
    ),
    (
        "weekend",
        re.compile(r"(?:(?:(下|这|今|本)个?)?周末)|(?<![a-z])(?:(this|next)\s+)?weekend(?![a-z])"),
    ),
    (
        "date_zh",
        re.compile(
            rf"(?:(20\d\d)\s?年\s?)?(\d{{1,2}}|{_CN_SMALL})\s?月\s?(\d{{1,2}}|{_CN_SMALL})\s?(?:日|号)?"
        ),
    ),
    (
        "day_zh",
        # "3號" is a day unless it numbers something: 3號樓, 8號風球, 3號單位, 2號閘...
        re.compile(
            r"(?<![\d月#])(\d{1,2})\s?(?:号|日)"
            r"(?!楼|室|房|铺|座|门|单|栋|车|线|码|仔|风|球|闸|柜|机|台|店|仓|位|窗|场|馆|床|箱)"
        ),
    ),
    ("date_iso", re.compile(r"(?<!\d)(20\d\d)[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")),
    ("date_dm", re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?(?![\d/])")),
    (
        "date_en_dm",
        re.compile(rf"(?<![a-z\d])(\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?{_MONTH_RE}(?![a-z])"),
    ),
    (
        "date_en_md",
        re.compile(rf"(?<![a-z]){_MONTH_RE}\.?\s(\d{{1,2}})(?:st|nd|rd|th)?(?![a-z\d])"),
    ),
    ("part", re.compile(rf"(?<![a-z])({_alternation(_PARTS)})(?![a-z])")),
    (
        "time_zh",
        re.compile(
            rf"(\d{{1,2}}|{_CN_SMALL})\s?(?:点钟|点|时)(?:\s?(半|一刻|三刻|(\d{{1,2}}|{_CN_SMALL})\s?分?))?"
        ),
    ),
    (
        "time_en",
        re.compile(r"(?<![\d:])(?:at\s)?(\d{1,2})(?::(\d{2}))?\s?(am|pm|a\.m\.|p\.m\.)(?![a-z])"),
    ),
    ("time_colon", re.compile(r"(?<![\d:])(?:at\s)?(\d{1,2}):(\d{2})(?![\d:])")),
    ("time_at", re.compile(r"(?<![a-z])at\s(\d{1,2})(?:\s?o'?clock)?(?![\d:a-z])")),
    ("time_oclock", re.compile(r"(?<![\d])(\d{1,2})\s?o'?clock")),
]
_DT_GAP = re.compile(r"^[\s,，的]*(?:at|on|by|around|约|大约|左右)?[\s,，]*$")
_DT_SLOTS = {
    "daypart": ("day", "part"),
    "rel": ("day",),
    "weekday_zh": ("day",),
    "weekday_en": ("day",),
    "weekend": ("day",),
    "date_zh": ("day",),
    "day_zh": ("day",),
    "date_iso": ("day",),
    "date_dm": ("day",),
    "date_en_dm": ("day",),
    "date_en_md": ("day",),
    "part": ("part",),
    "time_zh": ("time",),
    "time_en": ("time",),
    "time_colon": ("time",),
    "time_at": ("time",),
    "time_oclock": ("time",),
}


@dataclass
class _DtAtom:
    start: int
    end: int
    kind: str
    match: re.Match[str]


def _dt_atoms(norm: str) -> list[_DtAtom]:
    atoms = [
        _DtAtom(m.start(), m.end(), kind, m)
        for kind, pattern in _DT_ATOMS
        for m in pattern.finditer(norm)
    ]
    atoms.sort(key=lambda a: (-(a.end - a.start), a.start))
    spans = _Spans()
    kept = [atom for atom in atoms if spans.claim(atom.start, atom.end)]
    kept.sort(key=lambda a: a.start)
    return kept


def _resolve_day(atom: _DtAtom, today: date) -> tuple[date, str | None] | None:
    m, kind = atom.match, atom.kind
    if kind == "daypart":
        offset, part = _DAY_PARTS[m.group(1)]
        return today + timedelta(days=offset), part
    if kind == "rel":
        return today + timedelta(days=_REL_DAYS[m.group(1)]), None
    if kind == "weekday_zh":
        target = _WEEKDAYS_ZH[m.group(2)]
        prefix = m.group(1)
        monday = today - timedelta(days=today.weekday())
        if prefix == "下":
            return monday + timedelta(days=7 + target), None
        if prefix == "下下":
            return monday + timedelta(days=14 + target), None
        if prefix == "上":
            return monday + timedelta(days=target - 7), None
        if prefix in ("这", "今", "本"):
            return monday + timedelta(days=target), None
        return today + timedelta(days=(target - today.weekday()) % 7), None
    if kind == "weekend":
        prefix = m.group(1) or m.group(2)
        saturday = today - timedelta(days=today.weekday()) + timedelta(days=5)
        if prefix in ("下", "next"):
            return saturday + timedelta(days=7), None
        return (today if today.weekday() == 6 else saturday), None
    if kind == "weekday_en":
        word = m.group(2)
        prefix = m.group(1)
        if prefix is None and word in ("mon", "wed", "sat", "sun"):
            return None  # too ambiguous as a bare abbreviation
        target = _WEEKDAYS_EN[word]
        ahead = (target - today.weekday()) % 7
        if prefix == "next" and ahead == 0:
            ahead = 7
        return today + timedelta(days=ahead), None
    year = today.year
    month: int | None
    day: int | None
    explicit_year = False
    if kind == "date_zh":
        month, day = _int(m.group(2)), _int(m.group(3))
        if m.group(1):
            year, explicit_year = int(m.group(1)), True
    elif kind == "day_zh":
        month, day = today.month, _int(m.group(1))
        if day is not None and day < today.day:
            month += 1
            if month > 12:
                month, year = 1, year + 1
    elif kind == "date_iso":
        year, month, day, explicit_year = int(m.group(1)), int(m.group(2)), int(m.group(3)), True
    elif kind == "date_dm":
        day, month = int(m.group(1)), int(m.group(2))
        if m.group(3):
            year = int(m.group(3))
            year = year + 2000 if year < 100 else year
            explicit_year = True
    elif kind == "date_en_dm":
        day, month = int(m.group(1)), _MONTHS_EN[m.group(2)[:3]]
    elif kind == "date_en_md":
        month, day = _MONTHS_EN[m.group(1)[:3]], int(m.group(2))
    else:
        return None
    if month is None or day is None:
        return None
    try:
        result = date(year, month, day)
    except ValueError:
        return None
    if not explicit_year and result < today:
        try:
            result = date(year + 1, month, day)
        except ValueError:
            return None
    return result, None


def _resolve_time(atom: _DtAtom) -> tuple[int, int, str | None] | None:
    """Return (hour, minute, meridiem-or-None)."""
    m, kind = atom.match, atom.kind
    if kind == "time_zh":
        hour = _int(m.group(1))
        extra = m.group(2)
        minute = 0
        if extra == "半":
            minute = 30
        elif extra == "一刻":
            minute = 15
        elif extra == "三刻":
            minute = 45
        elif extra:
            minute = _int(m.group(3)) or 0
        if hour is None:
            return None
        return hour, minute, None
    if kind == "time_en":
        meridiem = "pm" if m.group(3).startswith("p") else "am"
        return int(m.group(1)), int(m.group(2) or 0), meridiem
    if kind == "time_colon":
        return int(m.group(1)), int(m.group(2)), None
    if kind in ("time_at", "time_oclock"):
        return int(m.group(1)), 0, None
    return None


def _datetime_group(
    group: list[_DtAtom], now: datetime
) -> tuple[datetime, str, datetime | None] | None:
    """(start, grain, end): an instant for a clock time, a window (end not None) otherwise."""
    today = now.date()
    day: date | None = None
    part: str | None = None
    time: tuple[int, int, str | None] | None = None
    for atom in group:
        if atom.kind in ("daypart", "rel") or atom.kind.startswith(("week", "date", "day_")):
            resolved = _resolve_day(atom, today)
            if resolved is None:
                return None
            day, day_part = resolved
            part = day_part or part
        elif atom.kind == "part":
            part = atom.match.group(1)
        else:
            time = _resolve_time(atom)
            if time is None:
                return None
    part_info = _PARTS.get(part) if part else None
    if time is not None:
        hour, minute, meridiem = time
        if not (0 <= hour <= 24 and 0 <= minute <= 59):
            return None
        meridiem = meridiem or (part_info[1] if part_info else None)
        if meridiem == "pm" and hour == 12 and part_info and part_info[0] >= 18:
            hour = 24  # 晚上十二點: midnight at the end of that day
        elif meridiem == "pm" and hour < 12:
            hour += 12
        elif meridiem == "am" and hour == 12:
            hour = 0
        elif meridiem == "noon" and hour < 6:
            hour += 12
        elif meridiem is None and 1 <= hour <= 7:
            # "三點" at a service desk means the afternoon.
            hour += 12
        grain = "minute" if minute else "hour"
    else:
        weekend = any(atom.kind == "weekend" for atom in group)
        start, end = window(day, part, now, weekend=weekend)
        grain = "part_of_day" if part else "weekend" if weekend else "day"
        return start, grain, end
    if hour == 24:
        hour, extra = 0, timedelta(days=1)
    else:
        extra = timedelta()
    if day is None:
        day = today
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=now.tzinfo)
        if candidate + extra <= now:
            day = today + timedelta(days=1)
    when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=now.tzinfo) + extra
    return when, grain, None


def _datetimes(norm: str, now: datetime) -> list[_Candidate]:
    atoms = _dt_atoms(norm)
    groups: list[list[_DtAtom]] = []
    for atom in atoms:
        if groups:
            last = groups[-1]
            slots = {s for a in last for s in _DT_SLOTS[a.kind]}
            if _DT_GAP.match(norm[last[-1].end : atom.start]) and not slots & set(
                _DT_SLOTS[atom.kind]
            ):
                last.append(atom)
                continue
        groups.append([atom])
    out: list[_Candidate] = []
    for group in groups[:MAX_PER_KIND]:
        if len(group) == 1 and _weak_alone(group[0], norm):
            continue
        resolved = _datetime_group(group, now)
        if resolved is None:
            continue
        when, grain, end = resolved
        entity: dict[str, Any] = {
            "entity": "datetime",
            "value": when.isoformat(),
            "grain": grain,
            "extractor": "KefuDatetimeExtractor",
        }
        if end is not None:
            entity["to"] = end.isoformat()
        out.append(_Candidate(group[0].start, group[-1].end, 4, entity))
    return out


# "As soon as possible" and "any time" are answers to "when may we come?", not instants: they
# come out as the visit_time entity with the repair form's own button values.
_VISIT_WORDS = {
    "asap": ("越快越好", "愈快愈好", "越早越好", "尽快", "尽早", "asap", "as soon as possible"),
    "anytime": (
        "任何时间都可以",
        "任何时间",
        "几时都得",
        "几时都可以",
        "什么时候都可以",
        "什么时间都可以",
        "随时都可以",
        "any time",
        "anytime",
        "whenever",
    ),
}
_VISIT_VALUE = {word: value for value, words in _VISIT_WORDS.items() for word in words}
_VISIT_RE = re.compile(rf"(?<![a-z])({_alternation(_VISIT_VALUE)})(?![a-z])")


def _visit_words(norm: str) -> list[_Candidate]:
    return [
        _Candidate(
            m.start(),
            m.end(),
            4,
            {
                "entity": "visit_time",
                "value": _VISIT_VALUE[m.group(1)],
                "extractor": "KefuDatetimeExtractor",
            },
        )
        for m in itertools.islice(_VISIT_RE.finditer(norm), MAX_PER_KIND)
    ]


def _weak_alone(atom: _DtAtom, norm: str) -> bool:
    """Atoms that on their own are more often not a time: 快一点, 有啲, 'at 3 people'..."""
    if atom.kind == "time_zh":
        number = atom.match.group(1)
        if number in ("一", "几") and not atom.match.group(2):
            return True
        if atom.match.group(0).endswith("时") and not atom.match.group(2):
            return True  # 3时 alone is unusual; 几时 (when) is a question word
    if atom.kind == "time_at":
        return True
    return atom.kind == "part" and atom.match.group(1) in (
        "night",
        "evening",
        "morning",
        "afternoon",
    )


# ---------------------------------------------------------------------------------------------
# keyword lookups (ENTITY.VALUE tables from the training data)


class LookupMatcher:
    """Keyword tables ``ENTITY.VALUE -> [keywords]``, matched longest-first per entity.

    A dictionary scan (first character -> candidate lengths) rather than one big regex
    alternation: Python's regex engine tries every alternative at every position, which made
    a few hundred keywords cost ~0.4 ms per message.
    """

    def __init__(self, tables: Mapping[str, Iterable[str]] | None = None) -> None:
        # keyword -> [(entity, value)], and first character -> keyword lengths, longest first
        self._keywords: dict[str, list[tuple[str, str]]] = {}
        by_first: dict[str, set[int]] = {}
        for name, keywords in (tables or {}).items():
            if "." not in name:
                continue
            entity, value = name.split(".", 1)
            for keyword in keywords:
                norm = normalize(str(keyword)).strip()
                if not norm:
                    continue
                owners = self._keywords.setdefault(norm, [])
                if all(owner != entity for owner, _ in owners):  # first table wins per entity
                    owners.append((entity, value))
                    by_first.setdefault(norm[0], set()).add(len(norm))
        self._lengths = {c: sorted(ls, reverse=True) for c, ls in by_first.items()}

    def __bool__(self) -> bool:
        return bool(self._keywords)

    def find(self, norm: str) -> list[_Candidate]:
        """Leftmost-longest keyword matches per entity type; one entity per distinct value."""
        out: list[_Candidate] = []
        n = len(norm)
        free_from: dict[str, int] = {}  # entity -> first position not covered by its last match
        seen: set[tuple[str, str]] = set()
        lengths_of = self._lengths
        keywords = self._keywords
        for i, char in enumerate(norm):
            lengths = lengths_of.get(char)
            if lengths is None:
                continue
            for length in lengths:
                if i + length > n:
                    continue
                owners = keywords.get(norm[i : i + length])
                if owners is None or not _whole_word(norm, i, i + length):
                    continue
                for entity, value in owners:
                    if free_from.get(entity, 0) > i:
                        continue
                    free_from[entity] = i + length
                    if (entity, value) not in seen:
                        seen.add((entity, value))
                        out.append(
                            _Candidate(
                                i,
                                i + length,
                                9,
                                {
                                    "entity": entity,
                                    "value": value,
                                    "extractor": "KefuLookupExtractor",
                                },
                            )
                        )
        return out


def _whole_word(norm: str, start: int, end: int) -> bool:
    """English keywords must not start or end inside a word (``lift`` ≠ ``shoplifting``)."""
    first, last = norm[start], norm[end - 1]
    if first.isascii() and first.isalnum() and start > 0:
        before = norm[start - 1]
        if before.isascii() and before.isalnum():
            return False
    if last.isascii() and last.isalnum() and end < len(norm):
        after = norm[end]
        if after.isascii() and after.isalpha():
            return False
    return True


_MATCHER_CACHE: dict[int, tuple[Any, LookupMatcher]] = {}


def _matcher(lookups: LookupMatcher | Mapping[str, Iterable[str]] | None) -> LookupMatcher | None:
    if lookups is None or isinstance(lookups, LookupMatcher):
        return lookups
    cached = _MATCHER_CACHE.get(id(lookups))
    if cached is not None and cached[0] is lookups:
        return cached[1]
    matcher = LookupMatcher(lookups)
    if len(_MATCHER_CACHE) > 32:
        _MATCHER_CACHE.clear()
    _MATCHER_CACHE[id(lookups)] = (lookups, matcher)
    return matcher


# ---------------------------------------------------------------------------------------------


def _resolve(candidates: list[_Candidate]) -> list[_Candidate]:
    candidates.sort(key=lambda c: (-(c.end - c.start), c.priority, c.start))
    spans = _Spans()
    return [cand for cand in candidates if spans.claim(cand.start, cand.end)]


def extract_entities(
    text: str,
    *,
    now: datetime,
    region: str = "HK",
    lookups: LookupMatcher | Mapping[str, Iterable[str]] | None = None,
) -> list[dict[str, Any]]:
    """All entities in ``text`` in Rasa's shape, ``start``/``end`` on the raw text, sorted by start.

    Structured entities (order_id, phone, unit, amount, datetime, email) never overlap each
    other; keyword-lookup entities may overlap them. Never raises.
    """
    if not isinstance(text, str) or not text:
        return []
    raw = text[:ENTITY_SCAN_CHARS]
    try:
        norm, index = normalize_with_map(raw)
    except Exception:
        log.exception("normalisation failed")
        return []
    return extract_normalized(raw, norm, index, now=now, region=region, lookups=lookups)


def extract_normalized(
    raw: str,
    norm: str,
    index: list[int],
    *,
    now: datetime,
    region: str = "HK",
    lookups: LookupMatcher | Mapping[str, Iterable[str]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`extract_entities` on text already normalised by :func:`normalize_with_map`."""
    try:
        structured: list[_Candidate] = []
        if "@" in norm:
            structured += [
                _Candidate(
                    m.start(),
                    m.end(),
                    0,
                    {"entity": "email", "value": m.group(0), "extractor": "KefuEmailExtractor"},
                )
                for m in _EMAIL.finditer(norm)
            ]
        structured += _order_ids(norm)
        structured += references(norm, _Candidate)
        structured += _amounts(norm)
        structured += _units(norm)
        structured += _datetimes(norm, now)
        structured += _visit_words(norm)
        if sum(map(str.isdigit, norm)) >= 7:
            structured += _phones(norm, region)
        found = _resolve(structured)
        matcher = _matcher(lookups)
        if matcher:
            found += matcher.find(norm)
        entities = []
        for cand in sorted(found, key=lambda c: (c.start, c.priority)):
            start, end = raw_span(index, cand.start, cand.end, len(raw))
            entity = dict(cand.entity)
            entity["start"], entity["end"] = start, end
            entities.append(entity)
        return entities
    except Exception:  # a bug in one pattern must not break the conversation
        log.exception("entity extraction failed")
        return []


def parse_datetime(text: str, *, now: datetime) -> datetime | None:
    """The first date/time expression in ``text`` resolved relative to ``now`` (its timezone)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        found = _datetimes(normalize(text[:ENTITY_SCAN_CHARS]), now)
    except Exception:
        log.exception("datetime parser failed")
        return None
    if not found:
        return None
    first = min(found, key=lambda c: c.start)
    return datetime.fromisoformat(first.entity["value"])


def parse_window(text: str, *, now: datetime) -> tuple[datetime, datetime | None] | None:
    """The first date/time expression in ``text`` as (start, end): ``end`` is None for a clock
    time, the window's end for a day, a part of a day or a weekend (see bot.nlu.windows)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        found = _datetimes(normalize(text[:ENTITY_SCAN_CHARS]), now)
    except Exception:
        log.exception("datetime parser failed")
        return None
    if not found:
        return None
    entity = min(found, key=lambda c: c.start).entity
    end = entity.get("to")
    return datetime.fromisoformat(entity["value"]), datetime.fromisoformat(end) if end else None
