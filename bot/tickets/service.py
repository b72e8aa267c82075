"""Opening and reading tickets. Functions take the caller's session so a ticket is written in the
same transaction as the conversation turn (or follow-up) that caused it."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.events import TicketOpened, publish
from bot.store.models import (
    TICKET_PREFIX,
    Priority,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketStatus,
)


async def allocate_number(session: AsyncSession, kind: str, when: datetime) -> str:
    """The next ticket number for ``kind`` on ``when``'s date: ``R-20261127-0001``.

    One atomic upsert on a per-prefix, per-day counter row. On PostgreSQL it runs on a
    connection of its own and commits at once, so the counter row is locked for one statement
    instead of the rest of the caller's turn: ticket-opening turns of the same day no longer
    wait on each other. The price: a turn that rolls back after taking a number leaves a gap
    (numbers stay unique and increasing, not gapless). On SQLite the upsert stays in the
    caller's transaction: there is one writer anyway, and a second connection would wait on
    the caller's own write lock.
    """
    prefix = TICKET_PREFIX.get(kind, "T")
    scope = f"{prefix}-{when:%Y%m%d}"
    bind = session.bind
    dialect = bind.dialect.name if bind is not None else "sqlite"
    params = {"scope": scope}
    if dialect == "postgresql" and bind is not None:
        engine = bind if isinstance(bind, AsyncEngine) else bind.engine
        async with _autocommit(engine).connect() as connection:
            value = (await connection.execute(_NEXT_NUMBER[True], params)).scalar_one()
    else:
        connection = await session.connection()
        value = (await connection.execute(_NEXT_NUMBER[False], params)).scalar_one()
    return f"{scope}-{value:04d}"


def _next_number(insert: Any) -> Any:
    return (
        insert(TicketCounter.__table__)
        .values(scope=bindparam("scope"), value=1)
        .on_conflict_do_update(
            index_elements=[TicketCounter.scope], set_={"value": TicketCounter.value + 1}
        )
        .returning(TicketCounter.value)
    )


# Built once (keyed by "is PostgreSQL"), so a ticket-opening turn neither rebuilds the upsert
# nor derives a new autocommit engine: ``execution_options`` makes a fresh engine proxy each
# call, and both cost more CPU than the statement's round trip.
_NEXT_NUMBER = {True: _next_number(pg_insert), False: _next_number(sqlite_insert)}
_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` in autocommit mode, derived once per engine."""
    autocommit = _AUTOCOMMIT.get(engine)
    if autocommit is None:
        autocommit = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return autocommit


async def open_ticket(
    session: AsyncSession,
    *,
    kind: str,
    now: datetime,
    actor: str,
    description: str = "",
    category: str | None = None,
    priority: str = Priority.NORMAL,
    unit: str | None = None,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    contact_phone: str | None = None,
    visit_time: str | None = None,
    anonymous: bool = False,
    language: str | None = None,
    details: dict[str, Any] | None = None,
) -> Ticket:
    """Create a ticket with its number and an ``opened`` audit event."""
    number = await allocate_number(session, kind, now)
    ticket = Ticket(
        number=number,
        kind=kind,
        category=category,
        priority=priority,
        status=TicketStatus.OPEN,
        unit=unit,
        description=description,
        contact_id=contact_id,
        conversation_id=conversation_id,
        contact_phone=contact_phone,
        visit_time=visit_time,
        anonymous=anonymous,
        language=language,
        details=details or {},
        sla={},
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    await add_event(session, ticket, actor=actor, action="opened", now=now, data={"kind": kind})
    await publish(session, TicketOpened(ticket.id, number, kind, now, actor))
    return ticket


async def add_event(
    session: AsyncSession,
    ticket: Ticket,
    *,
    actor: str,
    action: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    """Append to a ticket's audit trail."""
    event = TicketEvent(
        ticket_id=ticket.id, actor=actor, action=action, data=data or {}, created_at=now
    )
    session.add(event)
    await session.flush()
    return event


async def list_for_contact(
    session: AsyncSession, contact_id: int, *, limit: int = 10
) -> Sequence[Ticket]:
    """A contact's most recent tickets, newest first."""
    result = await session.execute(
        select(Ticket)
        .where(Ticket.contact_id == contact_id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return result.scalars().all()


async def get_ticket(session: AsyncSession, number: str) -> Ticket | None:
    """A ticket by its number (case-insensitive)."""
    result = await session.execute(select(Ticket).where(Ticket.number == number.strip().upper()))
    return result.scalar_one_or_none()
