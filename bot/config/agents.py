"""Human takeover settings: agent groups, routes, escalation, claim timing (bot.agents)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from bot.config.base import Language, Section, one_or_many, parse_duration


class AgentRoutes(Section):
    """Which escalations go to a group: by intent (ticket kind) and/or category; empty = none."""

    intents: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)

    @field_validator("intents", "categories", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return one_or_many(value)


class AgentGroupSettings(Section):
    """A Telegram supergroup with topics where agents answer escalated chats."""

    name: str
    chat_id: int
    routes: AgentRoutes = AgentRoutes()


class AgentsSettings(Section):
    """Human takeover: who gets escalations, what triggers them, and claim timing."""

    groups: list[AgentGroupSettings] = Field(default_factory=list)
    # A single group for everything not routed elsewhere (env KEFU_AGENT_GROUP_ID).
    default_group_id: int | None = None
    # Language of the agent-facing texts (cards, notices); empty = default_language.
    language: Language | None = None
    # Tickets of these kinds go to an agent as soon as they are opened.
    escalate_intents: list[str] = Field(default_factory=lambda: ["complaint"])
    # Urgent (emergency) tickets go to an agent at once.
    escalate_urgent: bool = True
    # After `dialogue.fallbacks_before_human` misunderstandings: escalate instead of offering.
    escalate_on_fallback: bool = False
    # A call-back survey scored at or below this escalates (0 = never).
    escalate_survey_score: int = Field(default=2, ge=0, le=5)
    # Agents' working hours (a calendar name); out of hours the customer is told when they
    # are back. Urgent tickets are handled 24x7.
    calendar: str = "office"
    # Nobody claimed, no ticket deadline: reminder this long after escalation, then the
    # supervisors supervisor_after later.
    claim_reminder: timedelta = timedelta(minutes=15)
    supervisor_after: timedelta = timedelta(minutes=15)
    # With a first-response deadline: reminders at these fractions of the time to it (a
    # complaint due in 72 h is reminded at 18 h and 36 h), the supervisors supervisor_after
    # after the last one, at the latest at the deadline.
    claim_reminders: list[float] = Field(default_factory=lambda: [0.25, 0.5])
    # A claimed chat whose customer has waited this long for an agent's answer goes back to
    # the queue (supervisors told); 0 = never.
    claim_idle_timeout: timedelta = timedelta(minutes=30)
    # Relay to the group: Telegram allows ~20 messages/min per group, shared by its topics.
    group_per_minute: int = Field(default=20, ge=1)
    # Customer messages arriving within this window are posted as one message.
    coalesce_window: timedelta = timedelta(seconds=3)
    # A post later than this says how late it is.
    show_delay_after: timedelta = timedelta(seconds=30)
    relay_poll: timedelta = timedelta(seconds=1)
    # Messages shown on the card.
    card_messages: int = Field(default=6, ge=0)

    @field_validator(
        "claim_reminder",
        "supervisor_after",
        "claim_idle_timeout",
        "coalesce_window",
        "show_delay_after",
        "relay_poll",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("claim_reminders")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0 < f <= 1 for f in value):
            raise ValueError("claim_reminders are fractions of the deadline, in (0, 1]")
        return sorted(set(value))

    @field_validator("escalate_intents", mode="before")
    @classmethod
    def _intents(cls, value: Any) -> Any:
        return one_or_many(value) if value is not None else []

    def all_groups(self) -> list[AgentGroupSettings]:
        """The configured groups, plus the default group (if set and not listed)."""
        groups = list(self.groups)
        if self.default_group_id is not None and all(
            g.chat_id != self.default_group_id for g in groups
        ):
            groups.append(AgentGroupSettings(name="default", chat_id=self.default_group_id))
        return groups

    def route(self, intent: str | None, category: str | None) -> AgentGroupSettings | None:
        """The group for an escalation: first matching route, else the default/first group."""
        groups = self.all_groups()
        for group in groups:
            r = group.routes
            if (
                (r.intents or r.categories)
                and (not r.intents or intent in r.intents)
                and (not r.categories or category in r.categories)
            ):
                return group
        for group in groups:
            if group.chat_id == self.default_group_id:
                return group
        return groups[0] if groups else None
