"""Fee settings: currency, late fees (bot.records.fees) and reminders (bot.fees)."""

from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import Field, field_validator

from bot.config.base import Fraction, Section


class LateFeeSettings(Section):
    """Late fee: ``rate`` of the outstanding amount once ``grace_days`` past the due date;
    with ``monthly`` the rate applies again for every further 30 days, up to ``max_rate``."""

    rate: Fraction = 0.0
    grace_days: int = Field(default=30, ge=0)
    monthly: bool = False
    max_rate: Fraction | None = None


def parse_time_of_day(value: Any) -> time:
    """``"10:00"`` -> ``time(10, 0)``; a clear error otherwise."""
    if isinstance(value, time):
        return value
    text = str(value).strip()
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ValueError(f"not a time of day: {value!r} (use e.g. 10:00)") from None


class FeeRemindersSettings(Section):
    """Reminders of unpaid fee items (催繳): one message per unit per daily run.

    ``offsets`` are days relative to each item's due date (negative: before it); the wording
    escalates with the offset (before, on the day, overdue, final). The daily run starts at
    ``send_at`` local time; messages still wait for the end of ``sla.quiet_hours``.
    """

    enabled: bool = True
    offsets: list[int] = Field(default_factory=lambda: [-7, 0, 7, 30])
    send_at: time = time(10, 0)
    # From this many days overdue the wording is the final (most insistent) one.
    final_after_days: int = Field(default=30, ge=1)

    @field_validator("offsets")
    @classmethod
    def _sorted_offsets(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("at least one offset (e.g. [-7, 0, 7, 30])")
        return sorted(set(value))

    @field_validator("send_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> time:
        return parse_time_of_day(value)


class FeesSettings(Section):
    currency: str = "HKD"
    late_fee: LateFeeSettings = LateFeeSettings()
    reminders: FeeRemindersSettings = FeeRemindersSettings()
