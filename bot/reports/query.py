"""Reading what a report needs: the tickets that may matter to a period, and their audit trails.

The only module of the report that talks to the database; everything after it is pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Message, Ticket, TicketEvent

_CHUNK = 500  # ticket ids per IN (...) list


@dataclass
class PeriodRows:
    """What :func:`load_period` read."""

    tickets: Sequence[Ticket]
    events: dict[int, list[TicketEvent]]
    agent_replies: dict[int, list[datetime]]  # by conversation id, oldest first


async def load_period(session: AsyncSession, start: datetime, end: datetime) -> PeriodRows:
    """Tickets opened in ``[start, end)``, or with a deadline, a change or an audit event in it;
    the audit trail of each; and when agents wrote in their conversations."""
    in_period = [
        column.between(start, end)
        for column in (
            Ticket.created_at,
            Ticket.due_first_response,
            Ticket.due_resolution,
            Ticket.due_callback,
            Ticket.updated_at,
        )
    ]
    in_period.append(
        Ticket.id.in_(
            select(TicketEvent.ticket_id).where(TicketEvent.created_at.between(start, end))
        )
    )
    tickets = (
        (
            await session.execute(
                select(Ticket).where(Ticket.created_at < end, or_(*in_period)).order_by(Ticket.id)
            )
        )
        .scalars()
        .all()
    )
    events: dict[int, list[TicketEvent]] = defaultdict(list)
    ids = [t.id for t in tickets]
    for at in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id.in_(ids[at : at + _CHUNK]))
            .order_by(TicketEvent.ticket_id, TicketEvent.id)
        )
        for event in rows.scalars():
            events[event.ticket_id].append(event)
    replies: dict[int, list[datetime]] = defaultdict(list)
    conversations = sorted({t.conversation_id for t in tickets if t.conversation_id is not None})
    since = min((t.created_at for t in tickets), default=start)
    for at in range(0, len(conversations), _CHUNK):
        rows = await session.execute(
            select(Message.conversation_id, Message.created_at)
            .where(
                Message.conversation_id.in_(conversations[at : at + _CHUNK]),
                Message.direction == "out",
                Message.sender.like("agent:%"),
                Message.created_at >= since,
                Message.created_at < end,
            )
            .order_by(Message.conversation_id, Message.created_at)
        )
        for row in rows:
            replies[row.conversation_id].append(row.created_at)
    return PeriodRows(tickets, dict(events), dict(replies))
