"""Dialogue settings: forms, retries and hand-over to a person (used by bot.dialogue)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from bot.config.base import Count, Section, parse_duration


class DialogueSettings(Section):
    max_form_retries: int = Field(default=3, ge=1, le=100)
    max_message_chars: Count = 1000
    fallbacks_before_human: int = Field(default=2, ge=1, le=100)
    # A form left unanswered this long is dropped when the user writes about something else.
    form_timeout: timedelta = timedelta(hours=12)

    @field_validator("form_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)
