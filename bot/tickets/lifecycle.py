"""Resolving and reopening tickets: the one place that keeps status, audit trail, deadlines and
the call-back survey consistent. The CLI, agents and the survey all go through here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
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
    from bot.followups.sla import schedule_callback_survey
    from bot.sla.policies import apply_deadlines

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
    themselves, since the survey only goes out for resolved tickets)."""
    from bot.sla.policies import apply_deadlines

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
