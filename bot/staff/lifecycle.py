"""What follows from a ticket's events, whichever door caused them (chat, agents' group, CLI):

* a good call-back answer (chat survey or phone) closes the resolved ticket;
* a new resolution needs a new call-back: an earlier answer (before rework) is cleared, so the
  new survey is asked and the phone task judges the new resolution;
* a resolved complaint: its outcome goes to the complainant (a durable follow-up that writes
  the outbox) and a call-back asks whether they are satisfied with the handling;
* a complaint reopened at call-back (unsatisfied): the supervisors are alerted.

The listeners run inside the transaction that raised the event (registered in
:func:`bot.app.build_events`) and only write rows: follow-ups, audit entries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.events import SurveyAnswered, TicketReopened, TicketResolved
from bot.followups.models import Followup, FollowupKind, FollowupStatus
from bot.followups.service import schedule
from bot.followups.sla import SURVEY_KINDS, schedule_callback_survey
from bot.sla.state import SlaState
from bot.staff.service import is_good
from bot.store.models import Contact, Ticket, TicketKind, TicketStatus
from bot.tickets.lifecycle import close_ticket
from bot.tickets.service import add_event

SYSTEM = "system"
UNSATISFIED_REASONS = ("survey", "callback")


def close_after_good_callback(
    settings: Settings,
) -> Callable[[AsyncSession, SurveyAnswered], Awaitable[None]]:
    """:class:`SurveyAnswered` listener: a good answer closes the resolved ticket."""

    async def listener(session: AsyncSession, event: SurveyAnswered) -> None:
        ticket = await session.get(Ticket, event.ticket_id)
        if ticket is None or ticket.status != TicketStatus.RESOLVED:
            return
        if is_good(event.score, event.fixed, settings):
            await close_ticket(session, ticket, now=event.at, actor=SYSTEM, reason="callback")

    return listener


def after_resolution(
    settings: Settings,
) -> Callable[[AsyncSession, TicketResolved], Awaitable[None]]:
    """:class:`TicketResolved` listener: clear a previous call-back answer; for a complaint,
    the outcome to the complainant and the satisfaction call-back."""

    async def listener(session: AsyncSession, event: TicketResolved) -> None:
        ticket = await session.get(Ticket, event.ticket_id)
        if ticket is None:
            return
        await _clear_previous_answer(session, ticket, event.at)
        await _drop_earlier_callbacks(session, ticket)
        if ticket.kind != TicketKind.COMPLAINT:
            return
        if ticket.conversation_id is not None:
            await schedule(
                session,
                kind=FollowupKind.COMPLAINT_OUTCOME,
                due_at=event.at,
                idempotency_key=f"{FollowupKind.COMPLAINT_OUTCOME}:{ticket.id}:{_iso(event.at)}",
                now=event.at,
                ticket_id=ticket.id,
                conversation_id=ticket.conversation_id,
                payload={"ticket": ticket.number, "outcome": event.outcome},
                settings=settings,
            )
        await schedule_callback_survey(session, ticket, settings, event.at)

    return listener


async def _clear_previous_answer(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """A rework was done and resolved again: the old answer judged the old work. It stays in
    the audit trail (``survey_answered`` / ``callback``), and is noted as cleared."""
    state = SlaState.of(ticket)
    had = {"score": ticket.survey_score, "fixed": ticket.survey_fixed}
    if ticket.survey_score is None and ticket.survey_fixed is None and not state.callback_met:
        return
    ticket.survey_score = None
    ticket.survey_fixed = None
    ticket.survey_comment = None
    state.callback_reset()
    state.save(ticket)
    await add_event(session, ticket, actor=SYSTEM, action="callback_cleared", now=now, data=had)


async def _drop_earlier_callbacks(session: AsyncSession, ticket: Ticket) -> None:
    """Call-backs still pending from an earlier resolution (reopened before they were due)
    would ask about the old work, besides the new one: cancel them."""
    resolved = ticket.resolved_at.astimezone(UTC).isoformat() if ticket.resolved_at else None
    rows = await session.execute(
        select(Followup).where(
            Followup.ticket_id == ticket.id,
            Followup.kind.in_(list(SURVEY_KINDS)),
            Followup.status == FollowupStatus.PENDING,
        )
    )
    for followup in rows.scalars():
        if (followup.payload or {}).get("resolved_at") != resolved:
            followup.status = FollowupStatus.CANCELLED


def alert_unsatisfied_complainant(
    settings: Settings,
) -> Callable[[AsyncSession, TicketReopened], Awaitable[None]]:
    """:class:`TicketReopened` listener: a complaint reopened because the complainant is not
    satisfied (survey or phone call-back) alerts the supervisors (a critical staff alert)."""

    async def listener(session: AsyncSession, event: TicketReopened) -> None:
        if event.reason not in UNSATISFIED_REASONS:
            return
        ticket = await session.get(Ticket, event.ticket_id)
        if ticket is None or ticket.kind != TicketKind.COMPLAINT:
            return
        await schedule(
            session,
            kind=FollowupKind.COMPLAINT_UNSATISFIED,
            due_at=event.at,
            idempotency_key=f"{FollowupKind.COMPLAINT_UNSATISFIED}:{ticket.id}:{_iso(event.at)}",
            now=event.at,
            ticket_id=ticket.id,
            payload={"ticket": ticket.number, "by": event.actor, "reason": event.reason},
            to_customer=False,
            urgent=True,
        )

    return listener


class Notifier(Protocol):
    """What writes a message to a customer's outbox: the dialogue engine
    (:meth:`bot.dialogue.engine.Engine.notify`), handed in by the app."""

    async def notify(
        self,
        conversation_id: int,
        response: str,
        values: dict[str, Any] | None = None,
        *,
        session: AsyncSession | None = None,
        sender: str = "bot",
    ) -> Any: ...


class ComplaintOutcome:
    """Follow-up handler: tell the complainant their complaint's outcome, in their chat's
    outbox, in the follow-up's transaction (so exactly once)."""

    transactional = True

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Write the outcome message unless nobody can be told."""
        ticket = await session.get(Ticket, followup.ticket_id) if followup.ticket_id else None
        if ticket is None or ticket.conversation_id is None:
            return
        if ticket.contact_id is not None:
            contact = await session.get(Contact, ticket.contact_id)
            if contact is not None and contact.unreachable:
                return
        outcome = str((followup.payload or {}).get("outcome") or "")
        await self.notifier.notify(
            ticket.conversation_id,
            "utter_complaint_outcome" if outcome else "utter_complaint_resolved",
            {"ticket_number": ticket.number, "outcome": outcome},
            session=session,
        )


def complaint_handlers(notifier: Notifier) -> dict[str, ComplaintOutcome]:
    """Customer-facing follow-up handlers of this package, for the follow-up worker."""
    return {FollowupKind.COMPLAINT_OUTCOME: ComplaintOutcome(notifier)}


def _iso(dt: datetime) -> str:
    return dt.isoformat()
