"""``kefu sla show``: each deadline of a ticket, why it is what it is, pauses and follow-ups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.config import Settings
from bot.sla.policies import WHICH, compute_deadlines, pauses_of
from bot.sla.state import SlaState
from bot.store.models import Ticket


class ScheduledWork(Protocol):
    """A scheduled follow-up as the explanation shows it (:class:`bot.followups.Followup`);
    a protocol because the SLA rules sit below the follow-ups that carry them out."""

    id: int
    kind: str
    status: str
    due_at: datetime
    last_error: str | None


def _fmt(dt: datetime | None, settings: Settings) -> str:
    return "-" if dt is None else f"{dt.astimezone(settings.tz):%Y-%m-%d %H:%M %Z}"


def explain_sla(
    ticket: Ticket, followups: Sequence[ScheduledWork], settings: Settings, now: datetime
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
        "callback": SlaState.of(ticket).callback_done_at,
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
    recorded = SlaState.of(ticket)
    if recorded.changes:
        lines.append("changed by staff (deadlines recomputed from the new values):")
        for c in recorded.changes:
            lines.append(
                f"  {_fmt(c.at, settings)}  {c.what} {c.old or '-'} -> {c.new or '-'}"
                f"  by {c.actor}: {c.reason or '-'}"
            )
    rework = recorded.rework
    if rework:
        lines.append(f"rework: {rework.reason}")
    if followups:
        lines.append("follow-ups:")
        for f in followups:
            lines.append(
                f"  #{f.id:<6} {f.kind:<16} {f.status:<9} due {_fmt(f.due_at, settings)}"
                f"{'  error: ' + f.last_error if f.last_error else ''}"
            )
    return "\n".join(lines)


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
