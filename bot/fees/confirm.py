"""Finance confirms a payment proof (``P-…``): the ledger is paid, the resident thanked, the
reminders stop (the reminder handler skips paid items), all in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.fees.planner import THANKS_KIND
from bot.followups.service import schedule
from bot.nlu.entities import unit_key as key_of_parts
from bot.records.models import FeeItem
from bot.records.present import money
from bot.records.residents import units_for_contact
from bot.records.units import read_unit
from bot.store.models import Ticket, TicketKind
from bot.tickets.lifecycle import resolve_ticket
from bot.tickets.service import add_event, get_ticket

CENT = Decimal("0.01")


class ConfirmError(Exception):
    """The proof cannot be confirmed as asked; the message says why (shown to finance)."""


@dataclass
class Confirmation:
    """What a confirmation changed."""

    ticket_number: str
    unit_key: str
    amount: Decimal
    applied: list[tuple[str, str, Decimal]] = field(default_factory=list)  # period, item, paid
    unapplied: Decimal = Decimal("0.00")
    outstanding: Decimal = Decimal("0.00")
    thanked: bool = False


def _amount(text: str | None) -> Decimal | None:
    if text in (None, ""):
        return None
    try:
        value = Decimal(str(text).replace(",", "")).quantize(CENT)
    except InvalidOperation:
        raise ConfirmError(f"not an amount: {text!r}") from None
    if value <= 0:
        raise ConfirmError("the amount must be more than 0")
    return value


async def _unit_of(session: AsyncSession, ticket: Ticket, unit: str | None) -> str:
    if unit:
        read = read_unit(unit, ticket.language or "zh-Hant")
        if read is None:
            raise ConfirmError(f"cannot read the unit {unit!r}")
        return read.key
    parts = (ticket.details or {}).get("unit")
    if isinstance(parts, dict) and key_of_parts(parts):
        return str(key_of_parts(parts))
    if ticket.unit:
        read = read_unit(ticket.unit, ticket.language or "zh-Hant")
        if read is not None:
            return read.key
    if ticket.contact_id is not None:
        units = await units_for_contact(session, ticket.contact_id)
        if len(units) == 1:
            return units[0]
    raise ConfirmError(f"{ticket.number} names no unit: give it with --unit")


async def confirm_payment(
    session: AsyncSession,
    number: str,
    *,
    settings: Settings,
    now: datetime,
    actor: str,
    amount: str | None = None,
    unit: str | None = None,
) -> Confirmation:
    """Apply a confirmed payment to the unit's oldest unpaid items, resolve the proof ticket,
    and schedule the thanks. ``amount`` overrides the amount read from the proof."""
    ticket = await get_ticket(session, number)
    if ticket is None:
        raise ConfirmError(f"no ticket {number}")
    if ticket.kind != TicketKind.PAYMENT or ticket.category != "payment_proof":
        raise ConfirmError(f"{ticket.number} is not a payment proof")
    if not ticket.is_open:
        raise ConfirmError(f"{ticket.number} is {ticket.status}: confirmed already?")
    paid = _amount(amount) or _amount((ticket.details or {}).get("amount"))
    if paid is None:
        raise ConfirmError(f"{ticket.number} has no amount: give it with --amount")
    key = await _unit_of(session, ticket, unit)
    items = (
        await session.scalars(
            select(FeeItem)
            .where(FeeItem.unit_key == key)
            .order_by(FeeItem.due_date, FeeItem.period, FeeItem.item)
        )
    ).all()
    if not items:
        raise ConfirmError(f"no fee items for unit {key}")
    result = Confirmation(ticket_number=ticket.number, unit_key=key, amount=paid)
    left = paid
    for item in items:
        outstanding = Decimal(item.amount) - Decimal(item.paid_amount or 0)
        if outstanding <= 0 or left <= 0:
            continue
        part = min(outstanding, left)
        item.paid_amount = Decimal(item.paid_amount or 0) + part
        item.paid_at = now
        item.updated_at = now
        left -= part
        result.applied.append((item.period, item.item, part))
    result.unapplied = left
    result.outstanding = sum(
        (Decimal(i.amount) - Decimal(i.paid_amount or 0) for i in items), Decimal("0.00")
    )
    data = {
        "amount": str(paid),
        "unit": key,
        "applied": [[p, i, str(a)] for p, i, a in result.applied],
        "unapplied": str(left),
    }
    await add_event(session, ticket, actor=actor, action="payment_confirmed", now=now, data=data)
    await resolve_ticket(session, ticket, settings=settings, now=now, actor=actor, note="paid")
    if ticket.conversation_id is not None:
        await schedule(
            session,
            kind=THANKS_KIND,
            due_at=now,
            idempotency_key=f"{THANKS_KIND}:{ticket.number}",
            now=now,
            to_customer=True,
            settings=settings,
            payload={
                "conversation_id": ticket.conversation_id,
                "ticket_number": ticket.number,
                "currency": settings.fees.currency,
                "amount": money(paid),
                "outstanding": money(result.outstanding),
            },
        )
        result.thanked = True
    return result
