"""Quarters (``2026Q4``): which one a day is in, its neighbours, and its campaign's dates."""

from __future__ import annotations

import re
from datetime import date, datetime

from bot.config import Settings

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_of(day: date) -> str:
    """``date(2026, 11, 27)`` -> ``"2026Q4"``."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def parse_quarter(text: str) -> tuple[int, int]:
    """``"2026Q4"`` -> (2026, 4); ValueError otherwise."""
    match = _QUARTER.match(text.strip().upper())
    if not match:
        raise ValueError(f"not a quarter: {text!r} (use e.g. 2026Q4)")
    return int(match.group(1)), int(match.group(2))


def shift(quarter: str, by: int) -> str:
    """The quarter ``by`` quarters later (earlier when negative)."""
    year, q = parse_quarter(quarter)
    index = year * 4 + (q - 1) + by
    return f"{index // 4}Q{index % 4 + 1}"


def send_time(quarter: str, settings: Settings) -> datetime:
    """When the quarter's questionnaire goes out: ``send_day`` of its last month."""
    year, q = parse_quarter(quarter)
    config = settings.evaluation
    return datetime(year, q * 3, config.send_day, tzinfo=settings.tz).replace(
        hour=config.send_at.hour, minute=config.send_at.minute
    )
