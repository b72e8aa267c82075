"""Staff actions on a ticket: one function per operation, each in the caller's transaction.

Every door (``kefu staff``, the agents' Telegram group, later the web console) calls these,
so an action has the same effect and the same audit entry whoever took it. Each writes a
:class:`~bot.store.models.TicketEvent` with who (``actor``: ``staff:<name>``,
``agent:<telegram id>``) and why, and reuses the ticket lifecycle
(:mod:`bot.tickets.lifecycle`) and the SLA (:func:`~bot.followups.deadlines.apply_deadlines`)
instead of changing statuses or deadlines by hand. Consequences that other parts care about
(close a ticket after a good call-back, tell a complainant) follow from domain events, see
:mod:`bot.staff.lifecycle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.events import SurveyAnswered, publish
from bot.followups.deadlines import apply_deadlines
from bot.followups.service import schedule
from bot.followups.sla import start_rework, survey_answered
from bot.records.values import try_phone
from bot.sla.policies import Deadlines
from bot.sla.state import Change, SlaState
from bot.staff.models import Technician
from bot.staff.technicians import find_technician
from bot.store.models import TICKET_PREFIX, Priority, Ticket, TicketKind, TicketStatus
from bot.tickets.categories import categories_for
from bot.tickets.lifecycle import (
    TicketStateError,
    cancel_ticket,
    close_ticket,
    reopen_ticket,
)
from bot.tickets.service import add_event, open_ticket

CHANNELS = ("phone", "walk_in", "visit")
OPEN_CHANNELS = ("phone", "walk_in")
TECHNICIAN_NOTICE = "technician_notice"  # follow-up kind, carried out by the agents' desk


class StaffError(ValueError):
    """A staff request that cannot be done as asked. The message says why in one line (for the
    CLI); ``key`` and ``values`` name the ``utter_staff_<key>`` text a chat door shows."""

    def __init__(self, message: str, key: str = "usage", **values: str) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class CallbackResult:
    """What a recorded call-back did: ``closed`` (good), or ``reopened`` with a rework due."""

    closed: bool
    reopened: bool
    rework_due: datetime | None = None


@dataclass(frozen=True)
class Assignment:
    """A technician on a ticket; ``told``: a Telegram message to them is on its way."""

    technician: Technician
    told: bool


def _need_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise StaffError(f"{what} needs a reason (--reason)", "need_reason")
    return reason[:500]


def is_good(score: int | None, fixed: bool | None, settings: Settings) -> bool:
    """A call-back answer that closes the ticket (the same rule as the chat survey: a score
    above ``sla.rework_score`` and not "not fixed")."""
    return fixed is not False and (score is None or score > settings.sla.rework_score)


async def open_for_customer(
    session: AsyncSession,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
    kind: str,
    description: str,
    channel: str = "phone",
    unit: str | None = None,
    phone: str | None = None,
    category: str | None = None,
    priority: str = Priority.NORMAL,
    language: str | None = None,
) -> Ticket:
    """Open a ticket for a customer who called or walked in.

    The customer is talking to staff, so first contact is made at opening
    (``first_response_at``); the ticket gets its deadlines and an ``opened_by_staff`` entry
    naming the channel. Bad input (unknown kind, category or priority, a phone that is no
    phone number, no description) is a :class:`StaffError`."""
    if kind not in TICKET_PREFIX:
        raise StaffError(f"kind must be one of {', '.join(TICKET_PREFIX)}, not {kind!r}")
    if channel not in OPEN_CHANNELS:
        raise StaffError(f"channel must be one of {', '.join(OPEN_CHANNELS)}, not {channel!r}")
    description = (description or "").strip()
    if not description:
        raise StaffError("a ticket needs a description")
    _check_category(kind, category)
    _check_priority(priority)
    number = None
    if phone:
        number = try_phone(phone, settings.default_region)
        if number is None:
            raise StaffError(f"{phone!r} is not a phone number")
    ticket = await open_ticket(
        session,
        kind=kind,
        now=now,
        actor=actor,
        description=description[:4000],
        category=category,
        priority=priority,
        unit=(unit or "").strip() or None,
        contact_phone=number,
        language=language,
        details={"channel": channel},
    )
    ticket.first_response_at = now
    await add_event(
        session, ticket, actor=actor, action="opened_by_staff", now=now, data={"channel": channel}
    )
    await apply_deadlines(session, ticket, settings, now)
    return ticket


async def record_contact(
    session: AsyncSession,
    ticket: Ticket,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
    channel: str = "phone",
    note: str = "",
) -> None:
    """Staff reached the customer (a call, a visit): the first response is met if it was not,
    and the contact is on record (reports count first contact from it)."""
    if channel not in CHANNELS:
        raise StaffError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    await add_event(
        session,
        ticket,
        actor=actor,
        action="contacted",
        now=now,
        data={"channel": channel, "note": note.strip()[:1000]},
    )
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        ticket.updated_at = now
        await apply_deadlines(session, ticket, settings, now)


async def record_callback(
    session: AsyncSession,
    ticket: Ticket,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
    score: int,
    fixed: bool | None,
    comment: str = "",
) -> CallbackResult:
    """The result of a phone call-back, with the same effect as the chat survey.

    A good answer closes the ticket (through the :class:`~bot.events.SurveyAnswered`
    listener); a bad one reopens it for rework with its deadline (``sla.rework``), and a
    complaint's supervisor is told (the :class:`~bot.events.TicketReopened` listener)."""
    if not 1 <= score <= 5:
        raise StaffError(f"score must be 1 to 5, not {score}", "bad_score")
    if not ticket.is_done:
        raise TicketStateError(f"{ticket.number} is {ticket.status}: resolve it before a call-back")
    if ticket.survey_score is not None:
        raise StaffError(
            f"{ticket.number} already has a call-back answer (score {ticket.survey_score})",
            "already_answered",
            ticket=ticket.number,
        )
    comment = comment.strip()[:1000]
    ticket.survey_score = score
    ticket.survey_fixed = fixed
    ticket.survey_comment = comment or None
    ticket.updated_at = now
    await add_event(
        session,
        ticket,
        actor=actor,
        action="callback",
        now=now,
        data={"score": score, "fixed": fixed, "comment": comment, "channel": "phone"},
    )
    await survey_answered(session, ticket, now)
    await publish(session, SurveyAnswered(ticket.id, ticket.number, score, fixed, now))
    if is_good(score, fixed, settings):
        return CallbackResult(closed=ticket.status == TicketStatus.CLOSED, reopened=False)
    await reopen_ticket(session, ticket, settings=settings, now=now, actor=actor, reason="callback")
    if ticket.kind == TicketKind.COMPLAINT:  # no rework order: the supervisors are alerted
        return CallbackResult(closed=False, reopened=True)
    due = await start_rework(session, ticket, settings, now, actor=actor)
    return CallbackResult(closed=False, reopened=True, rework_due=due)


async def change_category(
    session: AsyncSession,
    ticket: Ticket,
    category: str,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
    reason: str,
) -> Deadlines:
    """Re-classify the ticket; its deadlines are recomputed (``kefu sla show`` says why)."""
    reason = _need_reason(reason, "a category change")
    _check_category(ticket.kind, category)
    return await _change(session, ticket, "category", category, settings, now, actor, reason)


async def change_priority(
    session: AsyncSession,
    ticket: Ticket,
    priority: str,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
    reason: str,
) -> Deadlines:
    """Raise or lower the priority; deadlines and alerts follow (urgent: the emergency policy
    and its on-duty alert)."""
    reason = _need_reason(reason, "a priority change")
    _check_priority(priority)
    return await _change(session, ticket, "priority", priority, settings, now, actor, reason)


async def _change(
    session: AsyncSession,
    ticket: Ticket,
    what: str,
    new: str,
    settings: Settings,
    now: datetime,
    actor: str,
    reason: str,
) -> Deadlines:
    if ticket.status == TicketStatus.CANCELLED:
        raise TicketStateError(f"{ticket.number} is cancelled")
    old = getattr(ticket, what)
    if old == new:
        message = f"{ticket.number} already has {what} {new}"
        raise StaffError(message, "same_value", ticket=ticket.number, value=new)
    setattr(ticket, what, new)
    ticket.updated_at = now
    state = SlaState.of(ticket)
    state.record_change(Change(now, what, old, new, reason, actor))
    state.save(ticket)
    await add_event(
        session,
        ticket,
        actor=actor,
        action=f"{what}_changed",
        now=now,
        data={"from": old, "to": new, "reason": reason},
    )
    return await apply_deadlines(session, ticket, settings, now)


async def assign_technician(
    session: AsyncSession,
    ticket: Ticket,
    name: str,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
) -> Assignment:
    """Send a technician from the register; one linked to Telegram is told there, once (a
    follow-up the agents' desk turns into a message in its outbox)."""
    if not ticket.is_open:
        raise TicketStateError(f"{ticket.number} is {ticket.status}, not open")
    technician = await find_technician(session, name)
    if technician is None:
        raise StaffError(
            f"no active technician {name.strip()!r} (kefu technicians list)",
            "unknown_technician",
            value=name.strip(),
        )
    ticket.details = {
        **(ticket.details or {}),
        "technician": {"id": technician.id, "name": technician.name},
    }
    if ticket.status == TicketStatus.OPEN:
        ticket.status = TicketStatus.IN_PROGRESS
    ticket.updated_at = now
    await add_event(
        session,
        ticket,
        actor=actor,
        action="assigned",
        now=now,
        data={"technician": technician.name, "technician_id": technician.id},
    )
    told = technician.telegram_chat_id is not None and bool(settings.agents.all_groups())
    if told:
        await schedule(
            session,
            kind=TECHNICIAN_NOTICE,
            due_at=now,
            idempotency_key=f"{TECHNICIAN_NOTICE}:{ticket.id}:{technician.id}:{now.isoformat()}",
            now=now,
            ticket_id=ticket.id,
            payload={
                "technician_id": technician.id,
                "chat_id": technician.telegram_chat_id,
                "ticket": ticket.number,
                "by": actor,
            },
            to_customer=False,
            urgent=ticket.priority == Priority.URGENT,
        )
    return Assignment(technician, told)


async def cancel(
    session: AsyncSession, ticket: Ticket, *, now: datetime, actor: str, reason: str
) -> None:
    """Cancel an open ticket (a duplicate, the customer withdrew by phone); needs a reason."""
    reason = _need_reason(reason, "cancelling")
    await cancel_ticket(session, ticket, now=now, actor=actor, reason=reason)


async def close(
    session: AsyncSession, ticket: Ticket, *, now: datetime, actor: str, reason: str = ""
) -> None:
    """Close the ticket for good (raises :class:`~bot.events.TicketClosed`)."""
    await close_ticket(session, ticket, now=now, actor=actor, reason=reason.strip()[:500])


def _check_category(kind: str, category: str | None) -> None:
    known = categories_for(kind)
    if category is not None and known and category not in known:
        choices = ", ".join(known)
        raise StaffError(
            f"category of a {kind} must be one of {choices}, not {category!r}",
            "bad_category",
            value=category,
            choices=choices,
        )


def _check_priority(priority: str) -> None:
    if priority not in set(Priority):
        raise StaffError(
            f"priority must be one of {', '.join(Priority)}, not {priority!r}",
            "bad_priority",
            value=priority,
        )
