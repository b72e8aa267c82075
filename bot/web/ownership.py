"""Who in the office has a ticket: a staff member claims it, a supervisor assigns it.

An agent may claim a ticket nobody has (or hand their own to nobody by claiming it again is a
no-op); taking a colleague's ticket, or giving a ticket to someone, is a supervisor's call.
Every change is on the ticket's audit trail with who did it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Ticket
from bot.tickets.service import add_event
from bot.web.models import StaffAccount, StaffRole, TicketOwner


class OwnershipError(ValueError):
    """Refused: ``key`` names the console text (``taken``: a colleague has it; ``forbidden``:
    only a supervisor may; ``unknown_staff``: no such active account)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


async def owner_of(session: AsyncSession, ticket_id: int) -> StaffAccount | None:
    """The staff member who has the ticket, if anyone."""
    return await session.scalar(
        select(StaffAccount)
        .join(TicketOwner, TicketOwner.staff_id == StaffAccount.id)
        .where(TicketOwner.ticket_id == ticket_id)
    )


async def _set(session: AsyncSession, ticket: Ticket, staff_id: int, now: datetime) -> None:
    row = await session.get(TicketOwner, ticket.id)
    if row is None:
        session.add(TicketOwner(ticket_id=ticket.id, staff_id=staff_id, since=now))
    else:
        row.staff_id, row.since = staff_id, now
    ticket.updated_at = now


async def claim(
    session: AsyncSession, ticket: Ticket, me: StaffAccount, role: StaffRole, now: datetime
) -> None:
    """``me`` takes the ticket; a colleague's ticket only if ``role`` is supervisor or above."""
    current = await owner_of(session, ticket.id)
    if current is not None and current.id == me.id:
        return
    if current is not None and not role.at_least(StaffRole.SUPERVISOR):
        raise OwnershipError("taken")
    await _set(session, ticket, me.id, now)
    data = {"staff": me.email} | ({"from": current.email} if current else {})
    await add_event(session, ticket, actor=f"staff:{me.email}", action="claimed", now=now,
                    data=data)  # fmt: skip


async def assign(
    session: AsyncSession,
    ticket: Ticket,
    to_email: str,
    *,
    by: StaffAccount,
    role: StaffRole,
    now: datetime,
) -> StaffAccount:
    """A supervisor gives the ticket to a colleague (an active account)."""
    if not role.at_least(StaffRole.SUPERVISOR):
        raise OwnershipError("forbidden")
    target = await session.scalar(
        select(StaffAccount).where(
            StaffAccount.email == to_email.strip().lower(), StaffAccount.active.is_(True)
        )
    )
    if target is None:
        raise OwnershipError("unknown_staff")
    current = await owner_of(session, ticket.id)
    await _set(session, ticket, target.id, now)
    data = {"staff": target.email} | ({"from": current.email} if current else {})
    await add_event(session, ticket, actor=f"staff:{by.email}", action="assigned_staff",
                    now=now, data=data)  # fmt: skip
    return target


async def colleagues(session: AsyncSession) -> list[StaffAccount]:
    """Active accounts, by name (whom a supervisor may assign to)."""
    rows = await session.scalars(
        select(StaffAccount).where(StaffAccount.active.is_(True)).order_by(StaffAccount.name)
    )
    return list(rows)
