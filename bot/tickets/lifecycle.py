"""Resolving and reopening tickets: the one place that keeps status, audit trail, deadlines and
the call-back survey consistent. The CLI, agents and the survey all go through here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.events import TicketReopened, TicketResolved, publish
from bot.followups.deadlines import apply_deadlines
from bot.followups.sla import schedule_callback_survey
from bot.store.models import Ticket, TicketKind, TicketStatus
from bot.tickets.service import add_event


class TicketStateError(Exception):
    """The ticket cannot make that change (e.g. resolving a cancelled ticket)."""


async def resolve_ticket(
    session: AsyncSession,
    ticket: Ticket,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
    note: str = "",
) -> None:
    """Mark resolved, audit, recompute deadlines and schedule the repair call-back survey."""
    if not ticket.is_open:
        raise TicketStateError(f"{ticket.number} is {ticket.status}, not open")
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = now
    ticket.updated_at = now
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    await add_event(session, ticket, actor=actor, action="resolved", now=now, data={"note": note})
    await apply_deadlines(session, ticket, settings, now)
    if ticket.kind == TicketKind.REPAIR:
        await schedule_callback_survey(session, ticket, settings, now)
    await publish(session, TicketResolved(ticket.id, ticket.number, now, actor))


async def reopen_ticket(
    session: AsyncSession,
    ticket: Ticket,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
    reason: str = "",
) -> None:
    """Back to open: audit and recompute deadlines (pending survey follow-ups lapse by
    themselves, since the survey only goes out for resolved tickets). Raises
    :class:`~bot.events.TicketReopened` (the agents' topic reopens through its listener)."""
    if ticket.is_open:
        raise TicketStateError(f"{ticket.number} is already open")
    ticket.status = TicketStatus.OPEN
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.updated_at = now
    await add_event(
        session, ticket, actor=actor, action="reopened", now=now, data={"reason": reason}
    )
    await apply_deadlines(session, ticket, settings, now)
    await publish(session, TicketReopened(ticket.id, ticket.number, now, actor, reason))


async def cancel_ticket(
    session: AsyncSession,
    ticket: Ticket,
    *,
    now: datetime,
    actor: str,
    reason: str = "",
) -> None:
    """Cancelled (by the customer, who no longer needs it): audit who and why, and stop every
    pending follow-up so no reminder, SLA alert or survey goes out for it."""
    from bot.followups.service import cancel_for_ticket

    if not ticket.is_open:
        raise TicketStateError(f"{ticket.number} is {ticket.status}, not open")
    ticket.status = TicketStatus.CANCELLED
    ticket.closed_at = now
    ticket.updated_at = now
    await add_event(
        session, ticket, actor=actor, action="cancelled", now=now, data={"reason": reason}
    )
    await cancel_for_ticket(session, ticket.id)
