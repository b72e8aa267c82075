"""Applying a ticket's SLA: store its deadlines, pause and resume its clock, and keep its
warning and breach follow-ups in step.

The rules themselves (which policy, which calendar, when) are :mod:`bot.sla.policies`, below
the follow-ups; what changes a ticket and reschedules its follow-ups lives here, above both,
so neither imports the other back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.followups.sla import reschedule_sla_followups
from bot.sla.policies import WHICH, Deadlines, compute_deadlines
from bot.store.models import Ticket, TicketEvent


async def apply_deadlines(
    session: AsyncSession, ticket: Ticket, settings: Settings, now: datetime
) -> Deadlines:
    """Compute and store the ticket's deadlines (``due_*`` fields and ``Ticket.sla``).

    Call it whenever a ticket opens or changes (kind, category, priority, status), inside the
    same transaction. Pending SLA follow-ups (warnings, breach) are rescheduled to match.
    """
    deadlines = compute_deadlines(ticket, settings, now)
    sla = dict(ticket.sla or {})
    for which in WHICH:
        deadline = deadlines.get(which)
        setattr(ticket, f"due_{which}", deadline.due if deadline else None)
        if deadline is None:
            sla.pop(which, None)
        else:
            sla[which] = deadline.as_json()
    sla["computed_at"] = now.astimezone(UTC).isoformat()
    ticket.sla = sla
    await reschedule_sla_followups(session, ticket, deadlines, settings, now)
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
    sla = dict(ticket.sla or {})
    pauses = list(sla.get("pauses", []))
    pauses.append({"from": now.astimezone(UTC).isoformat(), "to": None, "reason": reason})
    sla["pauses"] = pauses
    ticket.sla = sla
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
    sla = dict(ticket.sla or {})
    pauses = [dict(p) for p in sla.get("pauses", [])]
    if pauses and pauses[-1].get("to") is None:
        pauses[-1]["to"] = now.astimezone(UTC).isoformat()
    else:
        pauses.append(
            {"from": started.astimezone(UTC).isoformat(), "to": now.astimezone(UTC).isoformat()}
        )
    sla["pauses"] = pauses
    ticket.sla = sla
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
