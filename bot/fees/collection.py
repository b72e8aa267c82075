"""Arrears (who owes what, since when, how often reminded) and the collection rate (收費率).

:func:`collection_rates` is what ``kefu report`` shows per period and building; it reads only
the ledger, so any report can call it with a session.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.fees.models import FeeReminder, ReminderStatus
from bot.fees.units import linked_chats, stopped_units
from bot.records.models import FeeItem
from bot.store.models import Message

ZERO = Decimal("0.00")


def building_of(unit_key: str) -> str:
    """The building (block) part of a unit key (``B3|U2|F15|R1502`` -> ``3``); ``-`` if none."""
    for part in unit_key.split("|"):
        if part.startswith("B") and len(part) > 1:
            return part[1:]
    return "-"


@dataclass(frozen=True, slots=True)
class Arrear:
    """One unit with overdue unpaid items."""

    unit_key: str
    unit_display: str
    building: str
    outstanding: Decimal
    items: int
    days_overdue: int
    reminders_sent: int
    last_contact: datetime | None
    linked: bool
    stopped: str | None  # "arrangement" / "disputed" / None


async def arrears(session: AsyncSession, today: date) -> list[Arrear]:
    """Units with items past their due date and unpaid, the most overdue first."""
    items = (
        await session.scalars(
            select(FeeItem).where(FeeItem.due_date < today, FeeItem.amount > FeeItem.paid_amount)
        )
    ).all()
    by_unit: dict[str, list[FeeItem]] = defaultdict(list)
    for item in items:
        by_unit[item.unit_key].append(item)
    if not by_unit:
        return []
    units = list(by_unit)
    sent = dict(
        (
            await session.execute(
                select(FeeReminder.unit_key, func.count())
                .where(FeeReminder.unit_key.in_(units), FeeReminder.status == ReminderStatus.SENT)
                .group_by(FeeReminder.unit_key)
            )
        ).all()
    )
    last_reminder = dict(
        (
            await session.execute(
                select(FeeReminder.unit_key, func.max(FeeReminder.sent_at))
                .where(FeeReminder.unit_key.in_(units))
                .group_by(FeeReminder.unit_key)
            )
        ).all()
    )
    chats = await linked_chats(session, units)
    conversations = {c.conversation_id: u for u, cs in chats.items() for c in cs}
    last_message: dict[str, datetime] = {}
    if conversations:
        latest = await session.execute(
            select(Message.conversation_id, func.max(Message.created_at))
            .where(Message.conversation_id.in_(list(conversations)), Message.direction == "in")
            .group_by(Message.conversation_id)
        )
        for conversation_id, when in latest.all():
            unit = conversations[conversation_id]
            if when is not None and (unit not in last_message or when > last_message[unit]):
                last_message[unit] = when
    stopped = await stopped_units(session, today)
    result = []
    for unit, unit_items in by_unit.items():
        contacts = [t for t in (last_reminder.get(unit), last_message.get(unit)) if t is not None]
        result.append(
            Arrear(
                unit_key=unit,
                unit_display=unit_items[0].unit_display,
                building=building_of(unit),
                outstanding=sum(
                    (Decimal(r.amount) - Decimal(r.paid_amount or 0) for r in unit_items), ZERO
                ),
                items=len(unit_items),
                days_overdue=max((today - r.due_date).days for r in unit_items),
                reminders_sent=int(sent.get(unit, 0)),
                last_contact=max(contacts) if contacts else None,
                linked=bool(chats.get(unit)),
                stopped=stopped.get(unit),
            )
        )
    return sorted(result, key=lambda a: (-a.days_overdue, a.unit_key))


@dataclass(frozen=True, slots=True)
class CollectionRate:
    """Billed and collected for one period and building; ``rate`` in [0, 1] (None: nothing
    billed)."""

    period: str
    building: str
    units: int
    billed: Decimal
    collected: Decimal

    @property
    def rate(self) -> float | None:
        return float(self.collected / self.billed) if self.billed > 0 else None


async def collection_rates(
    session: AsyncSession,
    *,
    periods: list[str] | None = None,
    due_before: date | None = None,
    by_building: bool = True,
) -> list[CollectionRate]:
    """Collection rate per period (and building): collected / billed, from the ledger.

    ``due_before`` counts only items already due (a rate of a month not yet due means
    little); ``periods`` limits the periods; ``by_building=False`` gives one row per period
    (building ``*``).
    """
    stmt = select(FeeItem.period, FeeItem.unit_key, FeeItem.amount, FeeItem.paid_amount)
    if periods:
        stmt = stmt.where(FeeItem.period.in_(periods))
    if due_before is not None:
        stmt = stmt.where(FeeItem.due_date < due_before)
    totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    units: dict[tuple[str, str], set[str]] = defaultdict(set)
    for period, unit_key, amount, paid in (await session.execute(stmt)).all():
        key = (period, building_of(unit_key) if by_building else "*")
        billed = Decimal(amount)
        totals[key][0] += billed
        totals[key][1] += min(Decimal(paid or 0), billed)
        units[key].add(unit_key)
    return [
        CollectionRate(period, building, len(units[(period, building)]), billed, collected)
        for (period, building), (billed, collected) in sorted(totals.items())
    ]
