"""SLA follow-ups: pre-breach warnings, breach escalation, emergency alerts, call-back survey
scheduling and rework deadlines, plus the staff-facing handlers for them.

Customer-facing surveys are sent by a handler the dialogue engine provides (kinds ``survey`` and
``survey_reminder``); this module only schedules them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.followups.models import Followup, FollowupKind, FollowupStatus
from bot.followups.service import Planned, cancel_for_ticket, schedule, schedule_many
from bot.sla.calendar import end_of_quiet_hours
from bot.sla.policies import (
    WHICH,
    Deadlines,
    Which,
    deadline_with_pauses,
    pauses_of,
    rework_deadline,
    rule_calendar,
)
from bot.sla.state import SlaState
from bot.store.models import Priority, Ticket, TicketEvent

log = logging.getLogger(__name__)

SLA_KINDS = (FollowupKind.SLA_WARNING, FollowupKind.SLA_BREACH)
SURVEY_KINDS = (FollowupKind.SURVEY, FollowupKind.SURVEY_REMINDER, FollowupKind.PHONE_CALLBACK)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def _met(ticket: Ticket, which: Which) -> bool:
    if which == "first_response":
        return ticket.first_response_at is not None or not ticket.is_open
    if which == "resolution":
        return ticket.resolved_at is not None or not ticket.is_open
    return SlaState.of(ticket).callback_met or ticket.survey_score is not None


async def reschedule_sla_followups(
    session: AsyncSession,
    ticket: Ticket,
    deadlines: Deadlines,
    settings: Settings,
    now: datetime,
    *,
    first: bool = False,
) -> None:
    """Make the ticket's pending warning/breach follow-ups match its current deadlines.

    One follow-up per kind and instant: deadlines that fall at the same moment (a complaint's
    72 h reply and 3 d resolution) share one warning and one breach alert naming both. Keys
    embed the instant, so a moved deadline cancels the old ones and schedules new ones; an
    unchanged instant keeps its row (and a warning already sent is never sent again, even when
    one of the deadlines it named is met later).

    ``first``: the ticket never had deadlines before (it just opened), so it has no SLA
    follow-ups to cancel or look up; all of them are written in one multi-row insert.
    """
    if ticket.id is None:
        await session.flush()
    # (kind, nominal instant) -> the deadlines alerted then, in the order of `deadlines`.
    instants: dict[tuple[str, datetime], list[dict[str, Any]]] = {}
    pauses = pauses_of(ticket)
    for which, deadline in deadlines.items():
        if deadline.due is None or which == "callback" or _met(ticket, which):
            continue
        part = {"which": which, "due": _iso(deadline.due), "policy": deadline.policy}
        if deadline.due > now:
            calendar = rule_calendar(deadline.rule, settings)
            for fraction in settings.sla.warn_at:
                at, _ = deadline_with_pauses(
                    calendar, deadline.start, deadline.rule.within * fraction, pauses
                )
                if at is not None:
                    instants.setdefault((FollowupKind.SLA_WARNING, at), []).append(
                        {**part, "fraction": fraction}
                    )
        instants.setdefault((FollowupKind.SLA_BREACH, deadline.due), []).append(part)
    if not first and any(at <= now for _, at in instants):
        # An instant already passed may have been alerted (under a key of its own, or one
        # from before alerts were merged): a deadline is warned and breached once.
        alerted = await _alerted(session, ticket.id)
        for (kind, at), parts in list(instants.items()):
            if at <= now:
                parts[:] = [p for p in parts if (kind, p["which"], p["due"]) not in alerted]
                if not parts:
                    del instants[(kind, at)]
    wanted: list[dict[str, Any]] = [
        {
            "kind": kind,
            # A warning point already passed (a late deadline change) warns now.
            "due_at": max(at, now) if kind == FollowupKind.SLA_WARNING else at,
            "key": f"{kind}:{ticket.id}:{_iso(at)}",
            "payload": _alert_payload(ticket, parts),
        }
        for (kind, at), parts in instants.items()
    ]
    if not first:
        await cancel_for_ticket(session, ticket.id, SLA_KINDS, keep_keys=[w["key"] for w in wanted])
    urgent = ticket.priority == Priority.URGENT
    planned = [
        Planned(
            kind=item["kind"],
            due_at=item["due_at"],
            idempotency_key=item["key"],
            ticket_id=ticket.id,
            payload=item["payload"],
            urgent=urgent,
            keep_current=True,  # another deadline may have moved onto this instant
        )
        for item in wanted
    ]
    if deadlines.alert_on_open and ticket.is_open:
        planned.append(
            Planned(
                kind=FollowupKind.EMERGENCY_ALERT,
                due_at=now,
                idempotency_key=f"emergency_alert:{ticket.id}",
                ticket_id=ticket.id,
                payload={"ticket": ticket.number, "priority": ticket.priority},
                urgent=True,
            )
        )
    await schedule_many(session, planned, now=now, settings=settings)


async def _alerted(session: AsyncSession, ticket_id: int) -> set[tuple[str, str, str]]:
    """(kind, which, due) of every SLA alert the ticket was sent."""
    rows = await session.execute(
        select(Followup.kind, Followup.payload).where(
            Followup.ticket_id == ticket_id,
            Followup.kind.in_(list(SLA_KINDS)),
            Followup.status == FollowupStatus.DONE,
        )
    )
    return {
        (str(kind), str(part.get("which")), str(part.get("due")))
        for kind, payload in rows
        if not (payload or {}).get("skipped")
        for part in _deadlines_of(payload or {})
    }


def _alert_payload(ticket: Ticket, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The payload of one alert: every deadline it is about (``deadlines``), and the first
    one's fields at the top (``which`` names them all, joined by ``+``)."""
    return {
        **parts[0],
        "which": "+".join(p["which"] for p in parts),
        "ticket": ticket.number,
        "deadlines": parts,
    }


async def schedule_callback_survey(
    session: AsyncSession, ticket: Ticket, settings: Settings, now: datetime
) -> list[Followup]:
    """On resolution: the survey at ``survey_delay`` (moved out of quiet hours unless urgent),
    one reminder ``survey_reminder_delay`` later, and a phone call-back task for staff when the
    call-back window closes. All inside the window (``Ticket.due_callback``) when possible.

    Call after setting ``resolved_at`` and :func:`~bot.followups.deadlines.apply_deadlines`. Keys
    include the resolution time, so a reopened and re-resolved ticket gets a new survey.
    """
    resolved = ticket.resolved_at or now
    window_end = ticket.due_callback
    urgent = ticket.priority == Priority.URGENT
    survey_at = resolved + settings.sla.survey_delay
    if not urgent:
        survey_at = end_of_quiet_hours(settings, survey_at)
    if window_end is not None and survey_at > window_end:
        survey_at = max(resolved, now)
    reminder_at = survey_at + settings.sla.survey_reminder_delay
    if not urgent:
        reminder_at = end_of_quiet_hours(settings, reminder_at)
    if window_end is not None and reminder_at >= window_end:
        reminder_at = survey_at + (window_end - survey_at) / 2
    tag = f"{ticket.id}:{_iso(resolved)}"
    common: dict[str, Any] = {
        "ticket_id": ticket.id,
        "conversation_id": ticket.conversation_id,
        "now": now,
        "urgent": urgent,
        "settings": settings,
    }
    payload = {"ticket": ticket.number, "language": ticket.language, "resolved_at": _iso(resolved)}
    rows = [
        await schedule(
            session,
            kind=FollowupKind.SURVEY,
            due_at=survey_at,
            idempotency_key=f"survey:{tag}",
            payload=payload,
            **common,
        ),
        await schedule(
            session,
            kind=FollowupKind.SURVEY_REMINDER,
            due_at=reminder_at,
            idempotency_key=f"survey_reminder:{tag}",
            payload=payload,
            **common,
        ),
    ]
    if window_end is not None:
        rows.append(
            await schedule(
                session,
                kind=FollowupKind.PHONE_CALLBACK,
                due_at=max(window_end, reminder_at),
                idempotency_key=f"phone_callback:{tag}",
                payload=payload,
                **common,
            )
        )
    return rows


async def survey_answered(session: AsyncSession, ticket: Ticket, now: datetime) -> int:
    """The survey was answered: cancel the reminder and the phone call-back task."""
    state = SlaState.of(ticket)
    state.callback_answered(now)
    state.save(ticket)
    return await cancel_for_ticket(
        session, ticket.id, [FollowupKind.SURVEY_REMINDER, FollowupKind.PHONE_CALLBACK]
    )


async def start_rework(
    session: AsyncSession, ticket: Ticket, settings: Settings, now: datetime, *, actor: str = "bot"
) -> datetime:
    """A problem found at call-back: record the rework order with its deadline (``sla.rework``)
    and schedule a ``rework_deadline`` check for staff. Returns the deadline."""
    due, reason = rework_deadline(settings, now)
    state = SlaState.of(ticket)
    state.order_rework(now, due, reason)
    state.save(ticket)
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor=actor,
            action="rework_ordered",
            data={"due": _iso(due), "reason": reason},
            created_at=now,
        )
    )
    await schedule(
        session,
        kind=FollowupKind.REWORK_DEADLINE,
        due_at=due,
        idempotency_key=f"rework_deadline:{ticket.id}:{_iso(now)}",
        now=now,
        ticket_id=ticket.id,
        payload={"ticket": ticket.number, "due": _iso(due)},
    )
    return due


# --- staff alerts ------------------------------------------------------------------------------


class Alerts(Protocol):
    """Tells staff about something (the agent side posts to Telegram)."""

    async def alert(self, *, level: str, ticket: Ticket, title: str, data: dict[str, Any]) -> None:
        """Deliver one alert. ``level`` is ``info``, ``warning`` or ``critical``."""
        ...


@dataclass
class LoggingAlerts:
    """Alerts written to the log (and kept in ``sent`` for inspection)."""

    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("kefu.alerts"))
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def alert(self, *, level: str, ticket: Ticket, title: str, data: dict[str, Any]) -> None:
        """Log the alert; phone numbers are never included."""
        entry = {"level": level, "ticket": ticket.number, "title": title, **data}
        self.sent.append(entry)
        log_level = logging.WARNING if level in {"warning", "critical"} else logging.INFO
        self.logger.log(log_level, "[%s] %s %s: %s", level, ticket.number, title, data)


class SlaAlertHandler:
    """Handles ``sla_warning``, ``sla_breach``, ``emergency_alert``, ``rework_deadline`` and
    ``phone_callback``: records a ticket event and alerts staff, unless it no longer applies
    (deadline met or moved)."""

    def __init__(self, alerts: Alerts, clock: Clock) -> None:
        self.alerts = alerts
        self.clock = clock

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Alert staff about ``followup`` if it still applies."""
        ticket = await session.get(Ticket, followup.ticket_id) if followup.ticket_id else None
        if ticket is None:
            return
        payload = dict(followup.payload or {})
        kind = followup.kind
        level, title = _ALERT[kind]
        if kind in SLA_KINDS:
            # Each deadline this instant stands for, if it is still unmet and still then.
            parts = [p for p in _deadlines_of(payload) if _still_due(ticket, p)]
            if not parts:
                payload["skipped"] = "deadline met or moved"
                followup.payload = payload
                return
            if len(parts) > 1:
                names = " + ".join(str(p["which"]).replace("_", " ") for p in parts)
                title = f"{title}: {names}"  # e.g. "deadline breached: first response + resolution"
            payload = {**payload, **_alert_payload(ticket, parts)}
            followup.payload = payload  # what was alerted (see _alerted)
        elif (kind == FollowupKind.REWORK_DEADLINE and not ticket.is_open) or (
            kind == FollowupKind.PHONE_CALLBACK and (_met(ticket, "callback") or not ticket.is_done)
        ):
            return  # no longer needed (done, answered, or reopened since)
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                actor="sla",
                action=kind,
                data={**payload, "followup_id": followup.id},
                created_at=self.clock.now(),
            )
        )
        await self.alerts.alert(level=level, ticket=ticket, title=title, data=payload)


def _deadlines_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The deadlines an alert follow-up is about (one, in rows scheduled before merging)."""
    parts = payload.get("deadlines")
    if isinstance(parts, list) and parts:
        return [p for p in parts if isinstance(p, dict)]
    return [{"which": payload.get("which", ""), "due": payload.get("due")}]


def _still_due(ticket: Ticket, part: dict[str, Any]) -> bool:
    which = part.get("which")
    if which not in WHICH:
        return False
    due = getattr(ticket, f"due_{which}", None)
    return not _met(ticket, which) and due is not None and _iso(due) == part.get("due")


_ALERT: dict[str, tuple[str, str]] = {
    FollowupKind.SLA_WARNING: ("warning", "deadline approaching"),
    FollowupKind.SLA_BREACH: ("critical", "deadline breached"),
    FollowupKind.EMERGENCY_ALERT: ("critical", "emergency ticket opened"),
    FollowupKind.REWORK_DEADLINE: ("critical", "rework deadline reached"),
    FollowupKind.PHONE_CALLBACK: ("info", "no survey answer: call the resident back"),
    FollowupKind.COMPLAINT_UNSATISFIED: (
        "critical",
        "complainant not satisfied with the handling: complaint reopened",
    ),
}


def sla_handlers(alerts: Alerts, clock: Clock) -> dict[str, SlaAlertHandler]:
    """Handlers for every staff-facing follow-up kind, for :class:`FollowupWorker`."""
    handler = SlaAlertHandler(alerts, clock)
    return {kind: handler for kind in _ALERT}
