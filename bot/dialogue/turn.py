"""One turn and the surface its deciders share.

A turn is split across several objects (bot/dialogue/engine.py wires them): the turn store
writes it, the policy (bot/dialogue/policy.py) decides it, the form loop (bot/dialogue/forms.py)
runs forms, the rasa_sdk bridge (bot/dialogue/bridge.py) runs actions, and the emergency and
two-request policies step in first. They call one another back and forth (a rule opens a form,
an action's event closes it, an expired form hands the message back to the rules). Calls down
(policy -> forms -> bridge) are direct; calls back up go through a :class:`TurnRunner` (the
engine), so no part imports one above it, and the emergency and two-request paths import no
part at all. Each part also gets the same :class:`Knowledge`. This module imports none of
them, which keeps the package's import graph one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.dialogue.choices import ChoiceResolver
from bot.dialogue.domain import Domain
from bot.dialogue.responses import Responses
from bot.messages import OutboundMessage
from bot.store.models import Contact, Conversation, Message


@dataclass
class Turn:
    """Everything one turn reads and writes."""

    session: AsyncSession
    conversation: Conversation
    contact: Contact
    inbound: Message | None
    now: datetime
    channel: str
    slots: dict[str, Any]
    state: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    replies: list[OutboundMessage] = field(default_factory=list)
    parse: dict[str, Any] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return str(self.slots.get("language") or "zh-Hant")

    @property
    def active_form(self) -> str | None:
        return self.conversation.active_form

    @property
    def requested_slot(self) -> str | None:
        value = self.slots.get("requested_slot")
        return str(value) if value else None


class Interpreter(Protocol):
    """What the engine needs from the NLU."""

    def parse(self, text: str, *, now: datetime | None = None) -> dict[str, Any]: ...


class TurnRunner(Protocol):
    """The moves the parts of a turn make on one another (implemented by the engine).

    Typed here so that the emergency path, the two-request policy, the form loop and the action
    bridge can each ask for a rule, a form's answer, a response or an action without importing
    the engine (or each other) to do it.
    """

    def utter(self, turn: Turn, response: str, **values: Any) -> None:
        """Queue a response in the user's language."""
        ...

    async def run_action(self, turn: Turn, name: str, **metadata: Any) -> bool:
        """Run a response or a registered action; ``False`` if it had nothing to do."""
        ...

    async def run_rule(self, turn: Turn, intent: str) -> None:
        """Do what the rules say follows ``intent`` (actions, or a form)."""
        ...

    async def form_turn(self, turn: Turn, form: str, parse: dict[str, Any], text: str) -> None:
        """Take ``text`` (understood as ``parse``) as the answer to the form's question."""
        ...

    async def activate_form(
        self, turn: Turn, form: str, *, carried: dict[str, Any] | None = None
    ) -> None:
        """Open ``form`` and ask its first question."""
        ...

    def deactivate_form(self, turn: Turn) -> None:
        """Leave the active form, forgetting what it had collected."""
        ...


@dataclass(frozen=True)
class Knowledge:
    """What every part of a turn reads and none changes: the settings, the domain and what is
    derived from it once per process (rules, known intents, registered actions)."""

    settings: Settings
    domain: Domain
    responses: Responses
    choices: ChoiceResolver
    interpreter: Interpreter
    # intent -> the actions (or form) that follow it
    rules: dict[str, list[str]]
    # (entity, only with these intents or any, actions)
    entity_rules: list[tuple[str, frozenset[str] | None, list[str]]]
    # The NLU's intents and the engine's own (commands and buttons).
    known_intents: set[str]
    # Actions the executor has registered (``validate_*``, ``action_*``).
    action_names: set[str]
