"""Business calendars: weekly hours, holidays and exceptions (used by bot.sla)."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from bot.config.base import Section

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hhmm_range(value: str) -> tuple[int, int]:
    """``"08:30-18:00"`` -> minutes since midnight (start, end); end may be 24:00."""
    match = _HOURS.match(value)
    if not match:
        raise ValueError(f"not an interval: {value!r} (use e.g. 08:30-18:00)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 24 * 60 or end > 24 * 60:
        raise ValueError(f"not a time of day in {value!r}")
    return start, end


def expand_days(key: str) -> list[int]:
    """``mon``, ``mon-fri``, ``sat-sun`` or ``daily`` -> weekday numbers (Monday = 0)."""
    key = key.strip().lower()
    if key == "daily":
        return list(range(7))
    first, _, last = key.partition("-")
    if first not in _DAY_NAMES or (last and last not in _DAY_NAMES):
        raise ValueError(f"unknown day {key!r} (use mon..sun, a range like mon-fri, or daily)")
    a = _DAY_NAMES.index(first)
    b = _DAY_NAMES.index(last) if last else a
    return [(a + i) % 7 for i in range((b - a) % 7 + 1)]


class CalendarSettings(Section):
    """A business calendar: weekly opening hours, public holidays and explicit exceptions."""

    # Day (mon..sun, a range like mon-fri, or daily) -> intervals "HH:MM-HH:MM", several per
    # day allowed; an end not after the start runs past midnight ("22:00-06:00");
    # "00:00-24:00" is the whole day.
    hours: dict[str, list[str]] = Field(default_factory=dict)
    holidays: Literal["HK", "CN", "TW", "none"] = "none"
    # Opening hours on those public holidays ("HH:MM-HH:MM", several allowed); empty: closed.
    # The FAQ quotes the same value (bot.sla.office), so what Kefu says and counts agree.
    holiday_hours: list[str] = Field(default_factory=list)
    # Dates closed all day / open although a holiday or weekend (with `workday_hours`' hours).
    extra_closed: list[date] = Field(default_factory=list)
    extra_open: list[date] = Field(default_factory=list)
    # Hours used on adjusted working days (調休, e.g. a Saturday worked in CN) and `extra_open`.
    workday_hours: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    timezone: str | None = Field(default=None, description="Defaults to the top-level timezone.")
    always_open: bool = False

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, intervals in value.items():
            expand_days(key)
            for interval in intervals:
                parse_hhmm_range(interval)
        return value

    @field_validator("holiday_hours")
    @classmethod
    def _valid_holiday_hours(cls, value: list[str]) -> list[str]:
        for interval in value:
            parse_hhmm_range(interval)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_calendar_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    def weekly(self) -> dict[int, list[tuple[int, int]]]:
        """Weekday (Monday = 0) -> sorted (start, end) minutes; later keys override earlier."""
        out: dict[int, list[tuple[int, int]]] = {}
        for key, intervals in self.hours.items():
            for day in expand_days(key):
                out[day] = sorted(parse_hhmm_range(i) for i in intervals)
        return out

    def holiday(self) -> list[tuple[int, int]]:
        """Opening hours on a public holiday as sorted (start, end) minutes; [] when closed."""
        return sorted(parse_hhmm_range(i) for i in self.holiday_hours)


def _default_calendars() -> dict[str, CalendarSettings]:
    return {
        # The reception promise: Mon–Fri 08:30–18:00, Sat–Sun 09:00–17:00, closed on holidays.
        "office": CalendarSettings(
            hours={"mon-fri": ["08:30-18:00"], "sat-sun": ["09:00-17:00"]}, holidays="HK"
        ),
    }
