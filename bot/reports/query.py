"""Reading what a report needs: the tickets that may matter to a period, and their audit trails.

The only module of the report that talks to the database; everything after it is pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Ticket, TicketEvent

_CHUNK = 500  # ticket ids per IN (...) list


async def load_period(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[Sequence[Ticket], dict[int, list[TicketEvent]]]:
    """Tickets opened in ``[start, end)`` or with a deadline or a change in it, and the audit
    trail of each (by ticket id)."""
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
    return tickets, dict(events)
