"""Quarterly owner evaluation (業主評議) settings, used by bot.evaluation."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from pydantic import Field, field_validator

from bot.config.base import Fraction, Section, parse_duration
from bot.config.fees import parse_time_of_day

DEFAULT_AREAS = ["security", "cleaning", "repairs", "customer_service", "gardens_facilities"]


class EvaluationSettings(Section):
    """Each quarter at least ``share`` of the households, stratified by building, never a unit
    asked in the previous ``repeat_quarters`` quarters (12 months), are asked to rate ``areas``
    1-5 plus a comment. Sent on ``send_day`` of the quarter's last month at ``send_at``; one
    reminder after ``reminder_after``; closes ``open_for`` after sending; the summary is due
    by ``summary_day`` of the next month. A score at or below ``low_score`` opens a task."""

    enabled: bool = True
    share: Fraction = 0.2
    repeat_quarters: int = Field(default=3, ge=0)
    send_day: int = Field(default=15, ge=1, le=28)
    send_at: time = time(10, 0)
    reminder_after: timedelta = timedelta(days=7)
    open_for: timedelta = timedelta(days=15)
    summary_day: int = Field(default=5, ge=1, le=28)
    areas: list[str] = Field(default_factory=lambda: list(DEFAULT_AREAS))
    low_score: int = Field(default=2, ge=1, le=5)

    @field_validator("send_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> time:
        return parse_time_of_day(value)

    @field_validator("reminder_after", "open_for", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("areas")
    @classmethod
    def _areas(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError("a non-empty list of distinct areas")
        return value
