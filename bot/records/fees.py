"""A unit's fee balance: what is owed, what is overdue, and late fees per ``fees.late_fee``.

Late fee: once an item is more than ``grace_days`` past its due date, ``rate`` times its unpaid
amount; with ``monthly`` the rate applies again for every further 30 days, capped at
``max_rate`` (a total rate). Amounts are rounded half-up to cents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import FeesSettings, LateFeeSettings
from bot.records.models import FeeItem
from bot.records.residents import units_for_contact

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One unpaid (or part-paid) charge."""

    period: str
    item: str
    amount: Decimal
    paid_amount: Decimal
    outstanding: Decimal
    due_date: date
    days_overdue: int
    late_fee: Decimal

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


@dataclass(slots=True)
class Balance:
    """What a unit owes on ``today``. ``total`` = unpaid amounts + late fees."""

    unit_key: str
    unit_display: str
    today: date
    currency: str
    lines: list[FeeLine] = field(default_factory=list)

    @property
    def outstanding(self) -> Decimal:
        return sum((line.outstanding for line in self.lines), ZERO)

    @property
    def late_fees(self) -> Decimal:
        return sum((line.late_fee for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.outstanding + self.late_fees

    @property
    def overdue_items(self) -> list[FeeLine]:
        return [line for line in self.lines if line.overdue]

    @property
    def overdue_total(self) -> Decimal:
        return sum((line.outstanding + line.late_fee for line in self.overdue_items), ZERO)

    @property
    def upcoming_items(self) -> list[FeeLine]:
        return [line for line in self.lines if not line.overdue]

    @property
    def settled(self) -> bool:
        return not self.lines


def late_fee(outstanding: Decimal, days_overdue: int, config: LateFeeSettings) -> Decimal:
    """The late fee on ``outstanding`` that is ``days_overdue`` days past due."""
    if config.rate <= 0 or outstanding <= 0 or days_overdue <= config.grace_days:
        return ZERO
    periods = 1
    if config.monthly:
        periods += (days_overdue - config.grace_days - 1) // 30
    rate = Decimal(str(config.rate)) * periods
    if config.max_rate is not None:
        rate = min(rate, Decimal(str(config.max_rate)))
    return (outstanding * rate).quantize(CENT, rounding=ROUND_HALF_UP)


async def balance(
    session: AsyncSession, unit_key: str, today: date, config: FeesSettings
) -> Balance:
    """The balance of ``unit_key`` on ``today`` (oldest charges first)."""
    rows = (
        await session.scalars(
            select(FeeItem)
            .where(FeeItem.unit_key == unit_key)
            .order_by(FeeItem.due_date, FeeItem.period, FeeItem.item)
        )
    ).all()
    result = Balance(
        unit_key=unit_key,
        unit_display=rows[0].unit_display if rows else unit_key,
        today=today,
        currency=config.currency,
    )
    for row in rows:
        amount = Decimal(row.amount).quantize(CENT)
        paid = Decimal(row.paid_amount or 0).quantize(CENT)
        outstanding = amount - paid
        if outstanding <= 0:
            continue
        days = (today - row.due_date).days
        result.lines.append(
            FeeLine(
                period=row.period,
                item=row.item,
                amount=amount,
                paid_amount=paid,
                outstanding=outstanding,
                due_date=row.due_date,
                days_overdue=max(days, 0),
                late_fee=late_fee(outstanding, days, config.late_fee),
            )
        )
    return result


async def balances_for_contact(
    session: AsyncSession, contact_id: int, today: date, config: FeesSettings
) -> list[Balance] | None:
    """Balances of every unit the chat is linked to; None when the chat is not linked."""
    units = await units_for_contact(session, contact_id)
    if not units:
        return None
    return [await balance(session, unit, today, config) for unit in units]
