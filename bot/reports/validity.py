"""Whether a complaint is valid (有效投訴): a staff decision, recorded in the ticket's audit
trail as a ``validity`` event (``data: {valid: bool, reason}``). The latest one counts; an
invalid complaint is shown in the report but left out of the handling rate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Ticket, TicketEvent, TicketKind


class NotAComplaint(ValueError):
    """Only complaints are valid or invalid."""


async def set_validity(
    session: AsyncSession,
    ticket: Ticket,
    *,
    valid: bool,
    actor: str,
    now: datetime,
    reason: str = "",
) -> TicketEvent:
    """Record a staff member's judgement of a complaint (the audit convention's event)."""
    if ticket.kind != TicketKind.COMPLAINT:
        raise NotAComplaint(f"{ticket.number} is a {ticket.kind}, not a complaint")
    event = TicketEvent(
        ticket_id=ticket.id,
        actor=actor,
        action="validity",
        data={"valid": valid, "reason": reason},
        created_at=now,
    )
    session.add(event)
    ticket.updated_at = now
    await session.flush()
    return event
