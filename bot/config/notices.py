"""Notice settings (``notices:``): how campaign deliveries are paced and leased."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from bot.config.base import Section, parse_duration


class NoticesSettings(Section):
    """Delivery workers claim ``batch_size`` recipients at a time under a ``lease``, send up to
    ``concurrency`` of them at once (Telegram's 30/s limit paces them), and wake every
    ``poll_interval``. A notice is "current" for residents asking about it for ``current_for``
    after it was sent unless it says until when."""

    # Sends per second of one process's delivery workers, evenly spaced; default (null):
    # telegram.rate_limit.per_second. With N processes give each 1/N of Telegram's 30/s.
    per_second: float | None = Field(default=None, ge=0)
    poll_interval: timedelta = timedelta(seconds=1)
    lease: timedelta = timedelta(seconds=60)
    batch_size: int = Field(default=30, ge=1)
    concurrency: int = Field(default=4, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    current_for: timedelta = timedelta(days=7)
    max_attachment_size: int = Field(default=20 * 1024 * 1024, ge=1)

    @field_validator("poll_interval", "lease", "current_for", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        return parse_duration(value)
