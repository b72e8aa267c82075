"""One turn: what the engine's parts read and write while a message is handled.

Kept apart from the engine so that the parts of a turn (the store, the policy, the forms, the
actions, the emergency path) can name it without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

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
