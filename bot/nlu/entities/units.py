"""Flats: block / unit / floor / room in Chinese and English, parsed, formatted and keyed."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from bot.nlu.entities.common import (
    CN_DIGITS,
    CN_SMALL,
    ENTITY_SCAN_CHARS,
    MAX_PER_KIND,
    Candidate,
    Spans,
    alternation,
    cn_int,
)
from bot.nlu.normalize import normalize, to_traditional

log = logging.getLogger(__name__)


_NUM_OR_LETTER = rf"(?:[a-z]\d{{0,2}}|\d{{1,3}}[a-z]?|{CN_SMALL})"
# An English flat/block value: with a digit (12B, 3, A1), or one letter standing alone
# ("Block C", not "blocks" / "block my").
_EN_VALUE = r"([a-z]?\d{1,4}[a-z]?|(?<=[\s.#])[a-z])(?![a-z0-9])"
_UNIT_ATOMS: list[tuple[str, re.Pattern[str]]] = [
    # 3-2-1502 (mainland block-entrance-room shorthand)
    ("triple", re.compile(r"(?<![\d\-/])(\d{1,3})-(\d{1,2})-(\d{3,4})(?![\d\-/])")),
    ("block", re.compile(rf"(?:第)?({_NUM_OR_LETTER})\s?(号楼|栋|幢|座|期楼)")),
    ("block", re.compile(r"(?<![a-z])(?:block|blk|tower|bldg|building)\.?\s?" + _EN_VALUE)),
    ("unit", re.compile(rf"({_NUM_OR_LETTER})\s?单元")),
    ("unit", re.compile(r"(?<![a-z])unit\s?#?\s?" + _EN_VALUE)),
    # 5樓之2 (Taiwan): floor 5, flat 2
    ("floor_of", re.compile(r"(\d{1,3})\s?(?:楼|层)之(\d{1,3})")),
    ("floor", re.compile(rf"(\d{{1,3}}|{CN_SMALL}|[gm])\s?(?:楼|层|/f|樓)(?!梯|宇|盘|主)")),
    ("floor", re.compile(r"(?<![a-z0-9])(\d{1,3}|g)\s?/\s?f(?![a-z])")),
    ("floor", re.compile(r"(?<![a-z0-9])(\d{1,3})(?:st|nd|rd|th)?\s?(?:floor|fl)(?![a-z])")),
    ("floor", re.compile(r"(?<![a-z])(?:floor|level)\s?(\d{1,3})(?![\d])")),
    ("room", re.compile(r"(?<![\d])([a-z]?\d{1,5}[a-z]?|[a-z])\s?(?:室|号房|房|号铺|铺|号单位)")),
    ("room", re.compile(r"(?<![a-z])(?:flat|room|rm|apt|apartment|suite)\.?\s?#?\s?" + _EN_VALUE)),
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
_UNIT_ATOMS.append(("area", re.compile(rf"(?<![a-z])({alternation(_COMMON_AREAS)})(?![a-z])")))
_BARE_ROOM = re.compile(r"[\s\-]?(\d{3,4}[a-z]?)(?![\d])")
_UNIT_GAP = re.compile(r"^[\s,，、的/\-]*$")


def _clean_part(text: str) -> str | None:
    text = text.strip().upper()
    if not text:
        return None
    if re.fullmatch(f"[{CN_DIGITS}]+", text):
        number = cn_int(text)
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
    spans = Spans()
    kept = [atom for atom in atoms if spans.claim(atom[0], atom[1])]
    kept.sort(key=lambda a: a[0])
    return kept


def find_units(norm: str) -> list[Candidate]:
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
    out: list[Candidate] = []
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
            Candidate(
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
        units = find_units(norm)
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
