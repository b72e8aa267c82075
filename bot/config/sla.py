"""SLA settings: policies, deadlines and the follow-up machinery (bot.sla, bot.followups)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from bot.config.base import Section, one_or_many, parse_duration
from bot.config.calendars import parse_hhmm_range


class DeadlineRule(Section):
    """One promise: ``within`` a duration of ``business`` time on ``calendar``, or wall time."""

    within: timedelta
    time: Literal["business", "calendar"] = "business"
    calendar: str = "office"

    @field_validator("within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class PolicyMatch(Section):
    """Which tickets a policy applies to; an empty list (or missing key) matches anything."""

    kind: list[str] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    priority: list[str] = Field(default_factory=list)

    @field_validator("kind", "category", "priority", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return one_or_many(value)


class SLAPolicy(Section):
    """Deadlines for matching tickets. For each deadline the first matching policy that sets it
    wins, so an `urgent` policy can set first response/resolution while call-back comes from the
    category policy below it."""

    name: str
    match: PolicyMatch = PolicyMatch()
    first_response: DeadlineRule | None = None
    resolution: DeadlineRule | None = None
    callback: DeadlineRule | None = None
    # Alert on-duty staff as soon as such a ticket opens (emergencies).
    alert_on_open: bool = False


def _default_policies() -> list[SLAPolicy]:
    r = DeadlineRule.model_validate
    return [
        SLAPolicy(
            name="emergency",
            match=PolicyMatch(priority=["urgent"]),
            first_response=r({"within": "15m", "time": "business", "calendar": "24x7"}),
            resolution=r({"within": "4h", "time": "business", "calendar": "24x7"}),
            alert_on_open=True,
        ),
        SLAPolicy(
            name="complaint",
            match=PolicyMatch(kind=["complaint"]),
            first_response=r({"within": "72h", "time": "calendar"}),
            callback=r({"within": "3d", "time": "calendar"}),
        ),
        SLAPolicy(
            name="feedback",
            match=PolicyMatch(kind=["feedback"]),
            first_response=r({"within": "72h", "time": "calendar"}),
            resolution=r({"within": "7d", "time": "calendar"}),
        ),
        SLAPolicy(
            name="repair-safety",
            match=PolicyMatch(kind=["repair"], category=["safety"]),
            callback=r({"within": "2d", "time": "calendar"}),
        ),
        SLAPolicy(
            name="repair-water-leak",
            match=PolicyMatch(kind=["repair"], category=["water_leak"]),
            callback=r({"within": "3d", "time": "calendar"}),
        ),
        SLAPolicy(
            name="repair",
            match=PolicyMatch(kind=["repair"]),
            callback=r({"within": "7d", "time": "calendar"}),
        ),
        SLAPolicy(
            name="default",
            first_response=r({"within": "2h", "time": "business", "calendar": "office"}),
            resolution=r({"within": "3d", "time": "calendar"}),
        ),
    ]


class SLASettings(Section):
    """Service-level promises and the follow-up machinery that keeps them."""

    policies: list[SLAPolicy] = Field(default_factory=_default_policies)
    # Call-back survey: sent this long after resolution (inside the call-back window).
    survey_delay: timedelta = timedelta(hours=2)
    survey_reminder_delay: timedelta = timedelta(hours=24)
    # No messages to residents in these local hours ("21:00-09:00"; empty = none); not urgent ones.
    quiet_hours: str = "21:00-09:00"
    # Pre-breach warnings at these fractions of each deadline's span.
    warn_at: list[float] = Field(default_factory=lambda: [0.75])
    # A problem found at call-back -> rework order with this deadline.
    rework: DeadlineRule = DeadlineRule(within=timedelta(hours=24), time="calendar")
    # A survey score at or below this (or "not fixed") reopens the ticket for rework.
    rework_score: int = Field(default=2, ge=0, le=5)
    # Follow-up workers: how often they wake, how long a claim is leased, batch size, retries.
    poll_interval: timedelta = timedelta(seconds=1)
    lease: timedelta = timedelta(seconds=60)
    batch_size: int = Field(default=100, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    # Batches one worker process runs side by side (PostgreSQL; SQLite always 1).
    worker_concurrency: int = Field(default=4, ge=1)

    @field_validator(
        "survey_delay", "survey_reminder_delay", "poll_interval", "lease", mode="before"
    )
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _valid_quiet_hours(cls, value: Any) -> str:
        value = "" if value is None else str(value)  # `quiet_hours:` left empty means none
        if value.strip():
            parse_hhmm_range(value)
        return value.strip() if value else ""

    @field_validator("warn_at")
    @classmethod
    def _valid_fractions(cls, value: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in value):
            raise ValueError("warn_at fractions must be between 0 and 1 (e.g. [0.75])")
        return sorted(set(value))
