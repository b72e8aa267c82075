"""Resolving, reopening, cancelling and closing tickets: the one place that keeps status, audit
trail, deadlines and the call-back survey consistent. The CLI, agents, staff and the survey all
go through here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.events import TicketClosed, TicketReopened, TicketResolved, publish
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
    outcome: str = "",
) -> None:
    """Mark resolved, audit, recompute deadlines and schedule the repair call-back survey.

    ``note`` is internal (audit trail only); ``outcome`` is what the customer is told (a
    complaint's result, sent by the :class:`~bot.events.TicketResolved` listener)."""
    if not ticket.is_open:
        raise TicketStateError(f"{ticket.number} is {ticket.status}, not open")
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = now
    ticket.updated_at = now
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    data = {"note": note, **({"outcome": outcome} if outcome else {})}
    await add_event(session, ticket, actor=actor, action="resolved", now=now, data=data)
    await apply_deadlines(session, ticket, settings, now)
    if ticket.kind == TicketKind.REPAIR:
        await schedule_callback_survey(session, ticket, settings, now)
    await publish(session, TicketResolved(ticket.id, ticket.number, now, actor, outcome))


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


async def close_ticket(
    session: AsyncSession,
    ticket: Ticket,
    *,
    now: datetime,
    actor: str,
    reason: str = "",
) -> None:
    """Closed for good (a good call-back, or staff): audit who and why, stop every pending
    follow-up and raise :class:`~bot.events.TicketClosed`. An open ticket is resolved at the
    same moment (the work is done; no call-back survey is asked for it). Messages already
    decided (a complaint's outcome on its way) still go out."""
    from bot.followups.models import FollowupKind
    from bot.followups.service import cancel_for_ticket
    from bot.followups.sla import SLA_KINDS, SURVEY_KINDS

    if ticket.status not in TicketStatus.OPEN_STATES and ticket.status != TicketStatus.RESOLVED:
        raise TicketStateError(f"{ticket.number} is {ticket.status}, not open or resolved")
    if ticket.resolved_at is None:
        ticket.resolved_at = now
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.status = TicketStatus.CLOSED
    ticket.closed_at = now
    ticket.updated_at = now
    await add_event(session, ticket, actor=actor, action="closed", now=now, data={"reason": reason})
    stop = [*SURVEY_KINDS, *SLA_KINDS, FollowupKind.REWORK_DEADLINE]
    await cancel_for_ticket(session, ticket.id, stop)
    await publish(session, TicketClosed(ticket.id, ticket.number, now, actor, reason))
