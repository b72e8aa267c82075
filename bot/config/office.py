"""The office's facts Kefu quotes: which calendar holds its opening hours, and its hotline.

The FAQ answers about opening hours, holidays and how to reach the office are templates filled
from here (``bot.sla.office``), so a change of hours changes both what Kefu says and what the
SLA calendar counts.
"""

from __future__ import annotations

from pydantic import field_validator

from bot.config.base import Section


class OfficeSettings(Section):
    """``office``: the reception's calendar (``calendars.<name>``) and its phone numbers."""

    # The calendar whose hours (and `holiday_hours`) the FAQ quotes as the office's hours.
    calendar: str = "office"
    # The office hotline as residents dial it ("2345 6789"); empty: "see the lobby notice".
    hotline: str = ""
    # The 24-hour emergency repair line; empty: the same as `hotline`.
    emergency_hotline: str = ""

    @field_validator("hotline", "emergency_hotline")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) > 40:
            raise ValueError("a phone number of at most 40 characters")
        return value

    @property
    def emergency_line(self) -> str:
        """The number to call for an emergency repair ('' when none is configured)."""
        return self.emergency_hotline or self.hotline
