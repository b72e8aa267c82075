"""What a report needs to know about one ticket, read from the ticket and its audit trail.

Pure functions: no database, no clock. The rules live here so the text, the workbook and the
charts all count the same way:

* **first contact** is the earliest of ``Ticket.first_response_at``, any staff contact in
  the audit trail (``contacted``, a phone ``callback``, ``opened_by_staff``, ``resolved``,
  ``closed``) and an agent's message in the ticket's conversation, whoever made it: a repair
  someone phoned about at once is answered then, even if it was marked resolved days later;
* **call-back done** is the first call-back after the last resolution: the chat survey answered
  (``survey_answered`` or ``sla.callback_done_at``) or a phone ``callback`` event. A repair
  reopened and reworked owes a new call-back after it is resolved again;
* **complaint validity** is the latest ``validity`` event (``data.valid``); no event: valid;
* **handled** (complaints) is done (resolved or closed) and the time it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.nlu.entities import parse_unit
from bot.sla.state import SlaState

# Audit actions by which staff reached the customer (see the ticket audit convention).
CONTACT_ACTIONS = frozenset({"contacted", "callback", "opened_by_staff", "resolved", "closed"})
# Actions that are a call-back to the customer after the work: chat survey or phone call.
CALLBACK_ACTIONS = frozenset({"survey_answered", "callback"})
# Actors that are not staff: their actions never make a ticket "handled by" someone.
NOT_STAFF = ("customer", "user", "bot", "system", "sla")
COMPLAINT_REPLY = timedelta(hours=72)  # the promise when a complaint has no deadline stored


class EventLike(Protocol):
    """A :class:`~bot.store.models.TicketEvent` (or a stand-in in tests)."""

    actor: str
    action: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Answer:
    """One satisfaction answer: chat survey or phone call-back."""

    at: datetime
    score: int | None
    fixed: bool | None
    channel: str  # "chat" | "phone"


@dataclass(frozen=True)
class TicketFacts:
    """One ticket as the report counts it."""

    id: int
    number: str
    kind: str
    category: str
    status: str
    created_at: datetime
    building: str | None
    handler: str | None  # the staff member or agent who handled it (actor string)
    due_first_response: datetime | None
    first_contact: datetime | None
    due_resolution: datetime | None
    done_at: datetime | None  # resolved or closed, None while open (or reopened)
    due_callback: datetime | None
    callback_at: datetime | None
    answers: tuple[Answer, ...]
    valid: bool
    cancelled_at: datetime | None  # when the customer withdrew it (None: not cancelled)

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    def owes(self, due: datetime, done: datetime | None) -> bool:
        """Whether a deadline at ``due`` still counts: not when the ticket was cancelled
        before it without having met it (nobody owes a reply to a withdrawn request)."""
        met = done is not None and done <= due
        return met or self.cancelled_at is None or self.cancelled_at > due

    @property
    def complaint_due(self) -> datetime:
        """When a complaint must be handled: its resolution deadline, else its reply
        deadline, else 72 h after it came in."""
        return self.due_resolution or self.due_first_response or self.created_at + COMPLAINT_REPLY


def building_of(unit: str | None) -> str | None:
    """The block of a unit text (「7座12樓B」 -> "7"); None when the unit names none."""
    if not unit:
        return None
    try:
        parts = parse_unit(unit)
    except Exception:  # a unit nobody can read is no building, never a failed report
        return None
    block = (parts or {}).get("block")
    return str(block) if block else None


def _is_staff(actor: str | None) -> bool:
    return bool(actor) and not str(actor).startswith(NOT_STAFF)


def _earliest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _score(value: Any) -> int | None:
    try:
        score = int(value)
    except (TypeError, ValueError):
        return None
    return score if 1 <= score <= 5 else None


def _fixed(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def facts_of(
    ticket: Any, events: Sequence[EventLike], agent_replies: Sequence[datetime] = ()
) -> TicketFacts:
    """The facts of one ticket from its row, its audit trail (any order) and the times agents
    wrote in its conversation."""
    trail = sorted(events, key=lambda e: e.created_at)
    contact = _earliest(
        ticket.first_response_at,
        *(e.created_at for e in trail if e.action in CONTACT_ACTIONS),
        *(at for at in agent_replies if at >= ticket.created_at),
    )
    resolutions = [e.created_at for e in trail if e.action in ("resolved", "closed")]
    last_resolution = resolutions[-1] if resolutions else (ticket.resolved_at or ticket.closed_at)
    done_at = (
        (ticket.resolved_at or ticket.closed_at or last_resolution) if ticket.is_done else None
    )
    callback_at = None
    if last_resolution is not None:
        chat_done = SlaState.of(ticket).callback_done_at
        callback_at = _earliest(
            chat_done if chat_done is not None and chat_done >= last_resolution else None,
            *(
                e.created_at
                for e in trail
                if e.action in CALLBACK_ACTIONS and e.created_at >= last_resolution
            ),
        )
    answers = tuple(
        Answer(
            at=e.created_at,
            score=_score((e.data or {}).get("score")),
            fixed=_fixed((e.data or {}).get("fixed")),
            channel="phone" if e.action == "callback" else "chat",
        )
        for e in trail
        if e.action in CALLBACK_ACTIONS
    )
    if not answers and ticket.survey_score is not None:  # answered before the audit event
        answers = (
            Answer(ticket.updated_at, _score(ticket.survey_score), ticket.survey_fixed, "chat"),
        )
    valid = True
    for e in trail:
        if e.action == "validity" and isinstance((e.data or {}).get("valid"), bool):
            valid = e.data["valid"]
    staff_done = [
        e.actor for e in trail if e.action in ("resolved", "closed") and _is_staff(e.actor)
    ]
    staff_any = [e.actor for e in trail if _is_staff(e.actor) and e.action != "validity"]
    handler = staff_done[-1] if staff_done else (staff_any[0] if staff_any else None)
    return TicketFacts(
        id=ticket.id,
        number=ticket.number,
        kind=ticket.kind,
        category=ticket.category or "other",
        status=ticket.status,
        created_at=ticket.created_at,
        building=building_of(ticket.unit),
        handler=handler,
        due_first_response=ticket.due_first_response,
        first_contact=contact,
        due_resolution=ticket.due_resolution,
        done_at=done_at,
        due_callback=ticket.due_callback,
        callback_at=callback_at,
        answers=answers,
        valid=valid,
        cancelled_at=(
            (
                ticket.closed_at
                or _earliest(*(e.created_at for e in trail if e.action == "cancelled"))
                or ticket.updated_at
            )
            if ticket.status == "cancelled"
            else None
        ),
    )


def all_facts(
    tickets: Iterable[Any],
    events: Mapping[int, Sequence[EventLike]],
    agent_replies: Mapping[int, Sequence[datetime]] | None = None,
) -> list[TicketFacts]:
    """Facts for every ticket; ``events`` maps a ticket id to its audit trail,
    ``agent_replies`` a conversation id to when agents wrote in it."""
    replies = agent_replies or {}
    return [
        facts_of(
            t, events.get(t.id, ()), replies.get(t.conversation_id, ()) if t.conversation_id else ()
        )
        for t in tickets
    ]
