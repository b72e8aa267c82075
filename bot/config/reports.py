"""Report settings (bot.reports): the complaint target, the fishbone causes, the managers' chat."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import Field, field_validator

from bot.config.base import Language, Section

# The five branches of a cause-and-effect diagram (人、機、料、法、環).
Cause = Literal["人", "機", "料", "法", "環"]

DEFAULT_CAUSES: dict[str, Cause] = {
    "staff": "人",
    "security": "人",
    "facilities": "機",
    "product_delivery": "料",
    "fees": "法",
    "parking": "法",
    "noise": "環",
    "sanitation": "環",
}


class ReportsSettings(Section):
    """``kefu report`` and the scheduled reports to the managers' chat.

    ``causes`` maps a complaint category to one of 人 機 料 法 環 for the fishbone; categories
    not listed (``other``) go under ``unmapped_cause``. ``managers_chat_id`` (a Telegram chat)
    receives a weekly report on ``weekly_day`` and a monthly one on the 1st, at ``send_at``
    office time; no chat id, no scheduled reports.
    """

    complaint_target: float = Field(default=0.95, gt=0, le=1)
    causes: dict[str, Cause] = Field(default_factory=lambda: dict(DEFAULT_CAUSES))
    unmapped_cause: Cause = "法"
    language: Language | None = None  # of the report texts; empty = default_language
    managers_chat_id: int | None = None
    weekly: bool = True
    monthly: bool = True
    weekly_day: int = Field(default=0, ge=0, le=6)  # 0 = Monday
    send_at: time = time(8, 30)

    @field_validator("send_at", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> object:
        if isinstance(value, str) and len(value) <= 5 and ":" in value:
            hours, minutes = value.split(":")
            return time(int(hours), int(minutes))
        return value
