"""What the console shows, read from the database: the inbox sorted by the next deadline, one
ticket with its conversation and audit trail, and a change marker for live updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.followups.models import Followup
from bot.store.models import Message, Ticket, TicketEvent, TicketStatus
from bot.web.models import StaffAccount, TicketOwner

FILTERS = ("kind", "status", "priority", "building", "owner")


@dataclass(frozen=True)
class InboxRow:
    """One open ticket as the inbox lists it."""

    number: str
    kind: str
    category: str | None
    priority: str
    status: str
    unit: str | None
    description: str
    created_at: datetime
    next_due: datetime | None
    next_which: str | None  # "first_response" | "resolution"
    owner: str | None = None  # the staff member who has it


@dataclass(frozen=True)
class Inbox:
    """The rows shown (at most the configured limit) and counts over all that match."""

    rows: list[InboxRow]
    total: int
    overdue: int
    by_kind: dict[str, int] = field(default_factory=dict)


def next_deadline(ticket: Any) -> tuple[datetime | None, str | None]:
    """The deadline that comes next for an open ticket: the first response while nobody has
    answered, else the resolution; None while the SLA clock is paused or none applies."""
    candidates: list[tuple[datetime, str]] = []
    if ticket.first_response_at is None and ticket.due_first_response is not None:
        candidates.append((ticket.due_first_response, "first_response"))
    if ticket.due_resolution is not None:
        candidates.append((ticket.due_resolution, "resolution"))
    if not candidates:
        return None, None
    due, which = min(candidates)
    return due, which


def _next_due_expr() -> Any:
    """:func:`next_deadline` in SQL, so the database sorts and counts 10,000 tickets instead
    of Python (the same rule on SQLite and PostgreSQL)."""
    first_pending = and_(Ticket.first_response_at.is_(None), Ticket.due_first_response.isnot(None))
    first_is_sooner = or_(
        Ticket.due_resolution.is_(None), Ticket.due_first_response < Ticket.due_resolution
    )
    return case(
        (and_(first_pending, first_is_sooner), Ticket.due_first_response),
        else_=Ticket.due_resolution,
    )


async def inbox(
    session: AsyncSession, filters: dict[str, str], now: datetime, limit: int, me: int = 0
) -> Inbox:
    """Open tickets matching ``filters``, the most urgent first (no deadline last): the first
    ``limit`` rows, and counts over all of them. ``owner``: ``me`` (staff id ``me``'s) or
    ``none`` (nobody's)."""
    conditions: list[ColumnElement[bool]] = [
        Ticket.status.in_([str(s) for s in TicketStatus.OPEN_STATES])
    ]
    for name in ("kind", "status", "priority"):
        if filters.get(name):
            conditions.append(getattr(Ticket, name) == filters[name])
    if filters.get("building"):
        conditions.append(Ticket.unit.contains(filters["building"], autoescape=True))
    if filters.get("owner") == "me":
        conditions.append(TicketOwner.staff_id == me)
    elif filters.get("owner") == "none":
        conditions.append(TicketOwner.staff_id.is_(None))
    due = _next_due_expr()
    cols = (
        Ticket.number, Ticket.kind, Ticket.category, Ticket.priority, Ticket.status,
        Ticket.unit, Ticket.description, Ticket.created_at, Ticket.first_response_at,
        Ticket.due_first_response, Ticket.due_resolution, StaffAccount.name.label("owner"),
    )  # fmt: skip
    owned = Ticket.__table__.outerjoin(TicketOwner, TicketOwner.ticket_id == Ticket.id).outerjoin(
        StaffAccount, StaffAccount.id == TicketOwner.staff_id
    )
    stmt = (
        select(*cols)
        .select_from(owned)
        .where(*conditions)
        .order_by(due.is_(None), due, Ticket.created_at)
        .limit(limit)
    )
    rows: list[InboxRow] = []
    for r in (await session.execute(stmt)).all():
        next_due, which = next_deadline(r)
        rows.append(
            InboxRow(
                number=r.number, kind=r.kind, category=r.category, priority=r.priority,
                status=r.status, unit=r.unit, description=r.description,
                created_at=r.created_at, next_due=next_due, next_which=which,
                owner=r.owner,
            )
        )  # fmt: skip
    overdue = func.sum(case((due < now, 1), else_=0))
    counts = (
        await session.execute(
            select(Ticket.kind, func.count(), overdue)
            .select_from(owned)
            .where(*conditions)
            .group_by(Ticket.kind)
        )
    ).all()
    by_kind = {kind: int(n) for kind, n, _ in counts}
    return Inbox(
        rows=rows,
        total=sum(by_kind.values()),
        overdue=sum(int(o or 0) for _, _, o in counts),
        by_kind=by_kind,
    )


@dataclass(frozen=True)
class TicketPage:
    """Everything the ticket page shows."""

    ticket: Ticket
    events: list[TicketEvent]
    messages: list[Message]
    followups: list[Followup]


async def ticket_page(session: AsyncSession, number: str) -> TicketPage | None:
    """A ticket with its audit trail, its conversation and its scheduled follow-ups."""
    ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None:
        return None
    events = list(
        await session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    )
    messages: list[Message] = []
    if ticket.conversation_id is not None:
        messages = list(
            await session.scalars(
                select(Message)
                .where(Message.conversation_id == ticket.conversation_id)
                .order_by(Message.id.desc())
                .limit(200)
            )
        )
        messages.reverse()
    followups = list(
        await session.scalars(
            select(Followup).where(Followup.ticket_id == ticket.id).order_by(Followup.due_at)
        )
    )
    return TicketPage(ticket=ticket, events=events, messages=messages, followups=followups)


async def change_marker(session: AsyncSession) -> tuple[Any, ...]:
    """Something that changes whenever a ticket or a message does: the live view compares it
    between two polls and tells the browsers to refresh only when it moved."""
    tickets = (await session.execute(select(func.max(Ticket.updated_at), func.count()))).one()
    last_message = await session.scalar(select(func.max(Message.id)))
    last_event = await session.scalar(select(func.max(TicketEvent.id)))
    return (tickets[0], tickets[1], last_message, last_event)
