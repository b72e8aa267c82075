"""Resolving and reopening tickets with their SLA consequences, and explaining deadlines.

``resolve_ticket`` and ``reopen_ticket`` are what ``kefu tickets resolve|reopen``, agent actions
and the API call; they take the caller's session so everything lands in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.followups.models import Followup
from bot.followups.service import cancel_for_ticket
from bot.followups.sla import SURVEY_KINDS, schedule_callback_survey
from bot.sla.policies import WHICH, apply_deadlines, compute_deadlines, pauses_of, resume_sla
from bot.store.models import Ticket, TicketEvent, TicketStatus

CLOSED = {TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.CANCELLED}


class TicketStateError(ValueError):
    """The ticket is not in a state that allows this (message is a sentence for the user)."""


async def resolve_ticket(
    session: AsyncSession,
    ticket: Ticket,
    settings: Settings,
    now: datetime,
    *,
    actor: str,
    note: str | None = None,
) -> list[Followup]:
    """Mark a ticket resolved, fix its call-back window and schedule the call-back survey.

    Repairs get the survey (at ``sla.survey_delay``, inside the window, outside quiet hours),
    a reminder and a phone call-back task; every kind with a call-back policy does. Returns
    the follow-ups scheduled.
    """
    if ticket.status in CLOSED:
        raise TicketStateError(f"ticket {ticket.number} is already {ticket.status}")
    if ticket.sla_paused_at is not None:
        await resume_sla(session, ticket, settings, now, actor=actor)
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = now
    ticket.updated_at = now
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor=actor,
            action="resolved",
            data={"note": note} if note else {},
            created_at=now,
        )
    )
    deadlines = await apply_deadlines(session, ticket, settings, now)
    if deadlines.callback is None:
        return []
    return await schedule_callback_survey(session, ticket, settings, now)


async def reopen_ticket(
    session: AsyncSession,
    ticket: Ticket,
    settings: Settings,
    now: datetime,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    """Reopen a resolved/closed ticket: pending surveys are cancelled, deadlines recomputed."""
    if ticket.status not in CLOSED:
        raise TicketStateError(f"ticket {ticket.number} is not resolved (it is {ticket.status})")
    previous = ticket.status
    ticket.status = TicketStatus.OPEN
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.updated_at = now
    await cancel_for_ticket(session, ticket.id, SURVEY_KINDS)
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor=actor,
            action="reopened",
            data={"from": previous, **({"reason": reason} if reason else {})},
            created_at=now,
        )
    )
    await apply_deadlines(session, ticket, settings, now)


def _fmt(dt: datetime | None, settings: Settings) -> str:
    return "-" if dt is None else f"{dt.astimezone(settings.tz):%Y-%m-%d %H:%M %Z}"


def explain_sla(
    ticket: Ticket, followups: Sequence[Followup], settings: Settings, now: datetime
) -> str:
    """``kefu sla show``: each deadline, why it is what it is, pauses and follow-ups."""
    deadlines = compute_deadlines(ticket, settings, now)
    lines = [
        f"{ticket.number}  {ticket.kind}/{ticket.category or '-'}  priority {ticket.priority}"
        f"  status {ticket.status}",
        f"opened {_fmt(ticket.created_at, settings)}"
        f"  first response {_fmt(ticket.first_response_at, settings)}"
        f"  resolved {_fmt(ticket.resolved_at, settings)}",
    ]
    met: dict[str, datetime | None] = {
        "first_response": ticket.first_response_at,
        "resolution": ticket.resolved_at,
        "callback": _callback_done(ticket),
    }
    for which in WHICH:
        deadline = deadlines.get(which)
        label = which.replace("_", " ")
        if deadline is None:
            why = (
                "opens when the ticket is resolved"
                if which == "callback"
                and any(getattr(p, "callback", None) is not None for p in settings.sla.policies)
                else "no policy sets it"
            )
            lines.append(f"  {label:<15} -  ({why})")
            continue
        state = _state(deadline.due, met[which], now)
        lines.append(f"  {label:<15} {_fmt(deadline.due, settings):<24} {state}")
        lines.append(f"  {'':<15} {deadline.reason}")
    pauses = pauses_of(ticket)
    if pauses:
        lines.append("pauses (SLA clock stopped while waiting on the customer):")
        for start, end in pauses:
            lines.append(f"  {_fmt(start, settings)} -> {_fmt(end, settings) if end else 'now'}")
    rework = (ticket.sla or {}).get("rework")
    if rework:
        lines.append(f"rework: {rework.get('reason')}")
    if followups:
        lines.append("follow-ups:")
        for f in followups:
            lines.append(
                f"  #{f.id:<6} {f.kind:<16} {f.status:<9} due {_fmt(f.due_at, settings)}"
                f"{'  error: ' + f.last_error if f.last_error else ''}"
            )
    return "\n".join(lines)


def _callback_done(ticket: Ticket) -> datetime | None:
    value: Any = (ticket.sla or {}).get("callback_done_at")
    return datetime.fromisoformat(value) if value else None


def _state(due: datetime | None, met_at: datetime | None, now: datetime) -> str:
    if due is None:
        return "paused"
    if met_at is not None:
        return "met" if met_at <= due else f"met late by {_span(met_at - due)}"
    if now > due:
        return f"BREACHED {_span(now - due)} ago"
    return f"{_span(due - now)} left"


def _span(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts) or "0m"
