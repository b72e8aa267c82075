"""Dates and times: atoms (:mod:`.timewords`) grouped and resolved relative to ``now``.

A clock time comes out as an instant; a day, a part of a day or a weekend also carries the
window's end (``to``, see :mod:`bot.nlu.windows`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.nlu.entities.common import ENTITY_SCAN_CHARS, MAX_PER_KIND, Candidate, Spans, cn_int
from bot.nlu.entities.timewords import (
    DAY_PARTS,
    DT_ATOMS,
    DT_GAP,
    DT_SLOTS,
    MONTHS_EN,
    PARTS,
    REL_DAYS,
    WEEKDAYS_EN,
    WEEKDAYS_ZH,
)
from bot.nlu.normalize import normalize
from bot.nlu.windows import window

log = logging.getLogger(__name__)


@dataclass
class _DtAtom:
    start: int
    end: int
    kind: str
    match: re.Match[str]


def _dt_atoms(norm: str) -> list[_DtAtom]:
    atoms = [
        _DtAtom(m.start(), m.end(), kind, m)
        for kind, pattern in DT_ATOMS
        for m in pattern.finditer(norm)
    ]
    atoms.sort(key=lambda a: (-(a.end - a.start), a.start))
    spans = Spans()
    kept = [atom for atom in atoms if spans.claim(atom.start, atom.end)]
    kept.sort(key=lambda a: a.start)
    return kept


def _resolve_day(atom: _DtAtom, today: date) -> tuple[date, str | None] | None:
    m, kind = atom.match, atom.kind
    if kind == "daypart":
        offset, part = DAY_PARTS[m.group(1)]
        return today + timedelta(days=offset), part
    if kind == "rel":
        return today + timedelta(days=REL_DAYS[m.group(1)]), None
    if kind == "weekday_zh":
        target = WEEKDAYS_ZH[m.group(2)]
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
        target = WEEKDAYS_EN[word]
        ahead = (target - today.weekday()) % 7
        if prefix == "next" and ahead == 0:
            ahead = 7
        return today + timedelta(days=ahead), None
    year = today.year
    month: int | None
    day: int | None
    explicit_year = False
    if kind == "date_zh":
        month, day = cn_int(m.group(2)), cn_int(m.group(3))
        if m.group(1):
            year, explicit_year = int(m.group(1)), True
    elif kind == "day_zh":
        month, day = today.month, cn_int(m.group(1))
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
        day, month = int(m.group(1)), MONTHS_EN[m.group(2)[:3]]
    elif kind == "date_en_md":
        month, day = MONTHS_EN[m.group(1)[:3]], int(m.group(2))
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
        hour = cn_int(m.group(1))
        extra = m.group(2)
        minute = 0
        if extra == "半":
            minute = 30
        elif extra == "一刻":
            minute = 15
        elif extra == "三刻":
            minute = 45
        elif extra:
            minute = cn_int(m.group(3)) or 0
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
    part_info = PARTS.get(part) if part else None
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


def find_datetimes(norm: str, now: datetime) -> list[Candidate]:
    atoms = _dt_atoms(norm)
    groups: list[list[_DtAtom]] = []
    for atom in atoms:
        if groups:
            last = groups[-1]
            slots = {s for a in last for s in DT_SLOTS[a.kind]}
            if DT_GAP.match(norm[last[-1].end : atom.start]) and not slots & set(
                DT_SLOTS[atom.kind]
            ):
                last.append(atom)
                continue
        groups.append([atom])
    out: list[Candidate] = []
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
        out.append(Candidate(group[0].start, group[-1].end, 4, entity))
    return out


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


def parse_datetime(text: str, *, now: datetime) -> datetime | None:
    """The first date/time expression in ``text`` resolved relative to ``now`` (its timezone)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        found = find_datetimes(normalize(text[:ENTITY_SCAN_CHARS]), now)
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
        found = find_datetimes(normalize(text[:ENTITY_SCAN_CHARS]), now)
    except Exception:
        log.exception("datetime parser failed")
        return None
    if not found:
        return None
    entity = min(found, key=lambda c: c.start).entity
    end = entity.get("to")
    return datetime.fromisoformat(entity["value"]), datetime.fromisoformat(end) if end else None
