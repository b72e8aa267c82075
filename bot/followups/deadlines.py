"""Applying a ticket's SLA: store its deadlines, pause and resume its clock, and keep its
warning and breach follow-ups in step.

The rules themselves (which policy, which calendar, when) are :mod:`bot.sla.policies`, below
the follow-ups; what changes a ticket and reschedules its follow-ups lives here, above both,
so neither imports the other back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.followups.sla import reschedule_sla_followups
from bot.sla.policies import Deadlines, compute_deadlines
from bot.sla.state import WHICH, SlaState
from bot.store.models import Ticket, TicketEvent


async def apply_deadlines(
    session: AsyncSession, ticket: Ticket, settings: Settings, now: datetime
) -> Deadlines:
    """Compute and store the ticket's deadlines (``due_*`` fields and ``Ticket.sla``).

    Call it whenever a ticket opens or changes (kind, category, priority, status), inside the
    same transaction. Pending SLA follow-ups (warnings, breach) are rescheduled to match.
    """
    deadlines = compute_deadlines(ticket, settings, now)
    state = SlaState.of(ticket)
    first = not state.ever_applied
    for which in WHICH:
        deadline = deadlines.get(which)
        setattr(ticket, f"due_{which}", deadline.due if deadline else None)
    state.apply(deadlines, now)
    state.save(ticket)
    await reschedule_sla_followups(session, ticket, deadlines, settings, now, first=first)
    return deadlines


async def pause_sla(
    session: AsyncSession,
    ticket: Ticket,
    settings: Settings,
    now: datetime,
    *,
    actor: str = "bot",
    reason: str = "waiting_customer",
) -> bool:
    """Stop the SLA clock (Kefu waits on the customer). Audited; False if already paused."""
    if ticket.sla_paused_at is not None:
        return False
    state = SlaState.of(ticket)
    state.pause(now, reason)
    state.save(ticket)
    ticket.sla_paused_at = now
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor=actor,
            action="sla_paused",
            data={"reason": reason},
            created_at=now,
        )
    )
    await apply_deadlines(session, ticket, settings, now)
    return True


async def resume_sla(
    session: AsyncSession,
    ticket: Ticket,
    settings: Settings,
    now: datetime,
    *,
    actor: str = "bot",
) -> bool:
    """Restart the SLA clock; deadlines move by the paused open time. False if not paused."""
    if ticket.sla_paused_at is None:
        return False
    started = ticket.sla_paused_at
    state = SlaState.of(ticket)
    state.resume(now, started)
    state.save(ticket)
    ticket.sla_paused_at = None
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor=actor,
            action="sla_resumed",
            data={"paused_seconds": (now - started).total_seconds()},
            created_at=now,
        )
    )
    await apply_deadlines(session, ticket, settings, now)
    return True
