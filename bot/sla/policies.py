"""SLA policies: which promises apply to a ticket, its deadlines, and pausing the SLA clock.

For each deadline (first response, resolution, call-back) the first policy in ``sla.policies``
that matches the ticket *and* sets that deadline wins. First response and resolution run from
the ticket's creation; the call-back window runs from its resolution. While the SLA is paused
(Kefu waits on the customer) open deadlines stop counting; the pauses are kept in the ticket's
:class:`~bot.sla.state.SlaState` so deadlines can always be recomputed from the ticket alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.config import DeadlineRule, Settings, SLAPolicy
from bot.sla.calendar import ALWAYS_OPEN, Calendar, build_calendars
from bot.sla.state import WHICH, SlaState, Which

_LABEL = {
    "first_response": "first response",
    "resolution": "resolution",
    "callback": "call-back",
}


class TicketLike(Protocol):
    """What deadline computation reads from a ticket (a :class:`Ticket` fits)."""

    kind: str
    category: str | None
    priority: str
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    sla_paused_at: datetime | None
    sla: dict[str, Any]


@dataclass(frozen=True)
class Deadline:
    """One computed deadline and why it is what it is."""

    which: Which
    due: datetime | None  # None while the SLA clock is paused
    policy: str
    rule: DeadlineRule
    start: datetime
    paused: timedelta  # open time spent paused before the deadline
    reason: str

    def as_json(self) -> dict[str, Any]:
        """The JSON kept for this deadline in the ticket's :class:`SlaState`."""
        return {
            "due": self.due.astimezone(UTC).isoformat() if self.due else None,
            "policy": self.policy,
            "within_seconds": self.rule.within.total_seconds(),
            "time": self.rule.time,
            "calendar": self.rule.calendar if self.rule.time == "business" else None,
            "start": self.start.astimezone(UTC).isoformat(),
            "paused_seconds": self.paused.total_seconds(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Deadlines:
    """The deadlines of one ticket; a missing one means no policy promises it."""

    first_response: Deadline | None = None
    resolution: Deadline | None = None
    callback: Deadline | None = None
    alert_on_open: bool = False

    def get(self, which: Which) -> Deadline | None:
        """The deadline called ``which``."""
        result: Deadline | None = getattr(self, which)
        return result

    def items(self) -> list[tuple[Which, Deadline]]:
        """The deadlines that exist, in order."""
        return [(w, d) for w in WHICH if (d := self.get(w)) is not None]


def policy_matches(policy: SLAPolicy, ticket: TicketLike) -> bool:
    """Whether ``policy.match`` selects ``ticket`` (empty criteria match anything)."""
    m = policy.match
    return (
        (not m.kind or ticket.kind in m.kind)
        and (not m.category or (ticket.category or "") in m.category)
        and (not m.priority or ticket.priority in m.priority)
    )


def select_rules(ticket: TicketLike, settings: Settings) -> dict[Which, SLAPolicy]:
    """For each deadline, the first matching policy that sets it."""
    chosen: dict[Which, SLAPolicy] = {}
    for policy in settings.sla.policies:
        if not policy_matches(policy, ticket):
            continue
        for which in WHICH:
            if which not in chosen and getattr(policy, which) is not None:
                chosen[which] = policy
    return chosen


def rule_calendar(rule: DeadlineRule, settings: Settings) -> Calendar:
    """The calendar a rule counts on (``24x7`` for calendar time)."""
    calendars = build_calendars(settings)
    return calendars[rule.calendar if rule.time == "business" else ALWAYS_OPEN]


def pauses_of(ticket: TicketLike) -> list[tuple[datetime, datetime | None]]:
    """Recorded SLA pauses ``(from, to)``, oldest first; ``to`` is None while paused."""
    return SlaState.of(ticket).pause_spans(ticket.sla_paused_at)


def deadline_with_pauses(
    calendar: Calendar,
    start: datetime,
    within: timedelta,
    pauses: list[tuple[datetime, datetime | None]],
) -> tuple[datetime | None, timedelta]:
    """When ``within`` of open time has run from ``start``, not counting paused time.

    Returns ``(due, paused)``: ``due`` is None if the clock is paused before it runs out;
    ``paused`` is the open time skipped because of pauses.
    """
    cursor, remaining, paused = start, within, timedelta(0)
    for p_start, p_end in pauses:
        if p_end is not None and p_end <= cursor:
            continue
        if p_start > cursor:
            running = calendar.between(cursor, p_start)
            if running >= remaining:
                return calendar.add(cursor, remaining), paused
            remaining -= running
            cursor = p_start
        if p_end is None:
            return None, paused
        paused += calendar.between(cursor, p_end)
        cursor = p_end
    return calendar.add(cursor, remaining), paused


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    return "".join(parts) or f"{seconds}s"


def _reason(
    which: Which,
    policy: SLAPolicy,
    rule: DeadlineRule,
    start_label: str,
    start: datetime,
    paused: timedelta,
    due: datetime | None,
    tz: Any,
) -> str:
    match = ", ".join(
        f"{key}={'|'.join(values)}"
        for key, values in (
            ("kind", policy.match.kind),
            ("category", policy.match.category),
            ("priority", policy.match.priority),
        )
        if values
    )
    time_kind = (
        f"business time on calendar {rule.calendar!r}"
        if rule.time == "business"
        else "calendar time"
    )
    text = (
        f"{_LABEL[which]} within {_human(rule.within)} of {time_kind}"
        f" from {start_label} {start.astimezone(tz):%Y-%m-%d %H:%M %Z}"
        f" (policy {policy.name!r}{': ' + match if match else ''})"
    )
    if paused:
        text += f"; {_human(paused)} paused while waiting on the customer"
    if due is None:
        text += "; clock paused now"
    return text


def compute_deadlines(ticket: TicketLike, settings: Settings, now: datetime) -> Deadlines:
    """The deadlines the configured policies give ``ticket``, with a reason for each.

    ``now`` is the time of the computation; a ticket not yet created uses it as its start.
    """
    chosen = select_rules(ticket, settings)
    tz = settings.tz
    pauses = pauses_of(ticket)
    created = ticket.created_at or now
    result: dict[str, Any] = {}
    for which, policy in chosen.items():
        rule: DeadlineRule = getattr(policy, which)
        calendar = rule_calendar(rule, settings)
        due: datetime | None
        if which == "callback":
            if ticket.resolved_at is None:
                continue  # the call-back window opens when the ticket is resolved
            start, label = ticket.resolved_at, "resolution at"
            due, paused = calendar.add(start, rule.within), timedelta(0)
        else:
            start, label = created, "opening at"
            due, paused = deadline_with_pauses(calendar, start, rule.within, pauses)
        reason = _reason(which, policy, rule, label, start, paused, due, tz)
        result[which] = Deadline(which, due, policy.name, rule, start, paused, reason)
    alert = any(p.alert_on_open and policy_matches(p, ticket) for p in settings.sla.policies)
    return Deadlines(**result, alert_on_open=alert)


def rework_deadline(settings: Settings, now: datetime) -> tuple[datetime, str]:
    """When a rework order raised at ``now`` is due (``sla.rework``), and why."""
    rule = settings.sla.rework
    due = rule_calendar(rule, settings).add(now, rule.within)
    kind = f"business time on {rule.calendar!r}" if rule.time == "business" else "calendar time"
    return due, f"rework within {_human(rule.within)} of {kind} from {now:%Y-%m-%d %H:%M %Z}"
