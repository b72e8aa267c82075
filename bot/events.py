"""Typed domain events: what became true about a ticket or a conversation, and who listens.

A domain operation (``reopen_ticket``, ``resolve_ticket``...) raises its event with
:func:`publish` inside the transaction that made it true. The listeners run there and then,
with that transaction's session: whatever they write (a follow-up row, an outbox row, a group
post) commits with the change or not at all, so each event is delivered exactly once per
commit. A listener that talks to the outside (Telegram, the agents' group) writes a durable
row that a worker or relay sends, never the message itself.

Listeners are registered in one place, :mod:`bot.app`, on the :class:`EventBus` that it
installs on the process's :class:`~bot.store.db.Database` (every session of that database
carries it in ``session.info``). A session without a bus (a script, a unit test of the store)
raises events to nobody.

This module imports no feature: the domain packages below the app raise events without
knowing who listens.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

# Where a session finds its bus (``session.info``); set through the sessionmaker's ``info``.
SESSION_KEY = "kefu.events"


class EscalationReason(enum.StrEnum):
    """Why a conversation went to a person (replaces the ``"survey:R-..."`` string protocol)."""

    HUMAN = "human"  # the customer asked for one
    COMPLAINT = "complaint"
    EMERGENCY = "emergency"
    FALLBACK = "fallback"  # Kefu did not understand, repeatedly
    SURVEY = "survey"  # a bad call-back survey
    SLA = "sla"
    TICKET_KIND = "ticket_kind"  # a ticket of a kind that goes to a person (escalate_intents)


@dataclass(frozen=True, slots=True)
class TicketOpened:
    """A ticket exists (any door: chat, staff, a campaign's follow-up task)."""

    ticket_id: int
    number: str
    kind: str
    at: datetime
    actor: str


@dataclass(frozen=True, slots=True)
class TicketResolved:
    """The work is done. ``outcome``: what the customer is told (a complaint's result)."""

    ticket_id: int
    number: str
    at: datetime
    actor: str
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class TicketReopened:
    """A resolved or closed ticket is open again (``kefu tickets reopen``, a bad survey)."""

    ticket_id: int
    number: str
    at: datetime
    actor: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TicketClosed:
    """Finished for good: a good call-back, or staff closed it (``reason`` says which)."""

    ticket_id: int
    number: str
    at: datetime
    actor: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Escalated:
    """A conversation asked for a person, and why (the agents' desk opens its topic)."""

    conversation_id: int
    reason: EscalationReason
    at: datetime
    ticket_id: int | None = None


@dataclass(frozen=True, slots=True)
class SurveyAnswered:
    """A call-back answer, by chat survey or by phone (a good one closes the ticket)."""

    ticket_id: int
    number: str
    score: int | None
    fixed: bool | None
    at: datetime


@dataclass(frozen=True, slots=True)
class OwnerChanged:
    """A conversation changed hands (bot, queue, an agent)."""

    conversation_id: int
    owner: str
    at: datetime
    agent_id: int | None = None


DomainEvent = (
    TicketOpened
    | TicketResolved
    | TicketReopened
    | TicketClosed
    | Escalated
    | SurveyAnswered
    | OwnerChanged
)
E = TypeVar("E", bound=DomainEvent)
Listener = Callable[[AsyncSession, Any], Awaitable[None]]


class EventBus:
    """Listeners by event type, called in order of subscription inside the raising transaction."""

    def __init__(self) -> None:
        self._listeners: dict[type, list[Listener]] = defaultdict(list)

    def subscribe(
        self, event_type: type[E], listener: Callable[[AsyncSession, E], Awaitable[None]]
    ) -> None:
        """Call ``listener(session, event)`` for every ``event_type`` raised in this process."""
        self._listeners[event_type].append(listener)

    def listeners(self, event_type: type) -> list[Listener]:
        return list(self._listeners.get(event_type, ()))

    async def dispatch(self, session: AsyncSession, event: DomainEvent) -> None:
        """Run the listeners of ``event`` with ``session`` (the transaction that raised it).

        A listener that fails fails the transaction: the change and its consequences commit
        together or not at all."""
        for listener in self._listeners.get(type(event), ()):
            await listener(session, event)


def install(sessionmaker: Any, bus: EventBus) -> None:
    """Make every session of ``sessionmaker`` (``Database.sessionmaker``) carry ``bus``."""
    info = dict(sessionmaker.kw.get("info") or {})
    info[SESSION_KEY] = bus
    sessionmaker.configure(info=info)


async def publish(session: AsyncSession, event: DomainEvent) -> None:
    """Raise ``event`` in ``session``'s transaction: its listeners run now, with ``session``."""
    bus = session.info.get(SESSION_KEY)
    if isinstance(bus, EventBus):
        await bus.dispatch(session, event)
