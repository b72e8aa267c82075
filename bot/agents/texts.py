"""Agent-facing words in the office's language: texts from ``dialogues/agents.yml``, times in
the office timezone, deadlines that say how long is left or how overdue they are, and labels
for the codes tickets and slots store (``water_leak``, ``normal``, ``asap``...).

The office language is ``agents.language``, else ``default_language`` (``zh-Hant`` for a Hong
Kong office). Labels come from the same responses the customers see (``utter_ticket_kind_*``,
``utter_repair_category_*``, ``utter_visit_*``) or from the agents' own
(``utter_agents_priority_*``); a code without a label is shown as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot.config import Settings
from bot.dialogue.responses import Responses

# Which responses name a code, by the field or slot that holds it ({kind}: the ticket's kind).
_LABELS: dict[str, tuple[str, ...]] = {
    "kind": ("utter_ticket_kind_{value}",),
    "category": ("utter_{kind}_category_{value}",),
    "priority": ("utter_agents_priority_{value}",),
    "urgency": ("utter_agents_priority_{value}",),
    "status": ("utter_ticket_status_{value}",),
    "visit_time": ("utter_visit_{value}",),
    "language": ("utter_agents_language_{value}",),
}


class AgentTexts:
    """Texts, times, deadlines and labels for the agents, in the office's language."""

    def __init__(self, settings: Settings, responses: Responses, tz: tzinfo) -> None:
        self.responses = responses
        self.language = settings.agents.language or settings.default_language
        self.tz = tz

    def text(self, response: str, /, **values: Any) -> str:
        """An agent-facing text (dialogues/agents.yml) in the agents' language."""
        return self.responses.text(response, self.language, values)

    def has(self, response: str) -> bool:
        """Whether ``dialogues/`` defines ``response``."""
        return response in self.responses

    def when(self, dt: datetime | None) -> str:
        """A time for agents, in the office timezone and the agents' language."""
        if dt is None:
            return "—"
        from bot.actions.display import when_text

        return self.responses.fill("{t}", self.language, {"t": when_text(dt.astimezone(self.tz))})

    def left(self, due: datetime | None, now: datetime) -> str:
        """Time left until ``due``, or how overdue it is, for agents."""
        if due is None:
            return self.text("utter_agents_no_deadline")
        delta = due - now
        span = self.span(delta)
        if delta < timedelta(0):
            return self.text("utter_agents_overdue", span=span)
        return self.text("utter_agents_time_left", span=span)

    def span(self, delta: timedelta) -> str:
        """A length of time for agents: ``45m``, ``18h00m``."""
        minutes = int(abs(delta) / timedelta(minutes=1))
        return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"

    def deadline(self, due: datetime | None, now: datetime, *, met: bool = False) -> str:
        """A deadline on the card: when, and how long is left or how overdue it is (just when
        once it is met)."""
        if due is None:
            return "—"
        if met:
            return self.text("utter_agents_deadline_met", when=self.when(due))
        return self.text("utter_agents_deadline", when=self.when(due), left=self.left(due, now))

    def label(self, field: str, value: Any, *, kind: str | None = None) -> str:
        """The office-language name of a stored code (``water_leak`` -> 「漏水」), or the code."""
        if value in (None, ""):
            return "—"
        for template in _LABELS.get(field, ()):
            name = template.format(value=value, kind=kind or "repair")
            if name in self.responses:
                return self.text(name)
        # A slot named after its labels (``repair_category`` -> utter_repair_category_*).
        name = f"utter_{field}_{value}"
        if isinstance(value, str) and name in self.responses:
            return self.text(name)
        return str(value)
