"""Fee balances: unpaid and part-paid items, overdue items, late fees per config."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import FrozenClock
from bot.config import FeesSettings, LateFeeSettings, Settings
from bot.records.fees import balance, balances_for_contact, late_fee
from bot.records.importing import Kind, import_file
from bot.records.residents import link_contact_by_phone, may_see_unit, residents_for_contact
from bot.records.units import read_unit

FEES = """
unit,period,item,amount,due_date,paid_amount,paid_at
3棟2單元1502室,2026-08,management fee,1500,2026-08-31,,
3棟2單元1502室,2026-09,management fee,1500,2026-09-30,1000,2026-10-02 10:00
3棟2單元1502室,2026-10,management fee,1500,2026-10-31,1500,2026-10-30 10:00
3棟2單元1502室,2026-11,parking,800,2026-11-30,,
Block 5 Unit 1 Rm 801,2026-08,management fee,999,2026-08-31,,
"""
RESIDENTS = """
unit,name,phone,role,move_in
3棟2單元1502室,陳大文,91234567,owner,2020-05-01
3棟2單元1502室,陳太,61234567,tenant,
"""
TODAY = date(2026, 11, 27)


@pytest.fixture
async def ledger(
    session: AsyncSession,
    settings: Settings,
    clock: FrozenClock,
    write_csv: Callable[[str, str], Path],
) -> str:
    kinds: tuple[tuple[Kind, str], ...] = (("fees", FEES), ("residents", RESIDENTS))
    for kind, text in kinds:
        path = write_csv(f"{kind}.csv", text)
        result = await import_file(session, kind, path, settings, clock.now())
        assert result.ok, result.errors
    unit = read_unit("3棟2單元1502室", "zh-Hant")
    assert unit is not None
    return unit.key


async def test_balance_without_late_fees(session: AsyncSession, ledger: str) -> None:
    result = await balance(session, ledger, TODAY, FeesSettings())
    assert [(line.period, line.item, line.outstanding) for line in result.lines] == [
        ("2026-08", "management_fee", Decimal("1500.00")),
        ("2026-09", "management_fee", Decimal("500.00")),
        ("2026-11", "parking", Decimal("800.00")),
    ]
    assert result.total == Decimal("2800.00")
    assert [line.period for line in result.overdue_items] == ["2026-08", "2026-09"]
    assert result.overdue_items[0].days_overdue == 88
    assert result.overdue_total == Decimal("2000.00")
    assert [line.item for line in result.upcoming_items] == ["parking"]
    assert result.late_fees == Decimal("0.00")


async def test_balance_with_late_fees(session: AsyncSession, ledger: str) -> None:
    config = FeesSettings(late_fee=LateFeeSettings(rate=0.05, grace_days=30))
    result = await balance(session, ledger, TODAY, config)
    # August: 88 days overdue > 30 -> 5 % of 1500; September: 58 days -> 5 % of 500.
    assert [line.late_fee for line in result.lines] == [
        Decimal("75.00"),
        Decimal("25.00"),
        Decimal("0.00"),
    ]
    assert result.total == Decimal("2900.00")

    monthly = FeesSettings(late_fee=LateFeeSettings(rate=0.02, grace_days=14, monthly=True))
    result = await balance(session, ledger, TODAY, monthly)
    # August: 88 - 14 = 74 days -> 3 periods of 2 %; September: 58 - 14 = 44 -> 2 periods.
    assert [line.late_fee for line in result.lines[:2]] == [Decimal("90.00"), Decimal("20.00")]


def test_late_fee_edges() -> None:
    config = LateFeeSettings(rate=0.05, grace_days=30, monthly=True, max_rate=0.1)
    assert late_fee(Decimal("100"), 30, config) == Decimal("0.00")
    assert late_fee(Decimal("100"), 31, config) == Decimal("5.00")
    assert late_fee(Decimal("100"), 60, config) == Decimal("5.00")
    assert late_fee(Decimal("100"), 61, config) == Decimal("10.00")
    assert late_fee(Decimal("100"), 400, config) == Decimal("10.00")  # capped
    assert late_fee(Decimal("0.10"), 31, config) == Decimal("0.01")  # half-up to cents


async def test_settled_and_unknown_unit(session: AsyncSession, ledger: str) -> None:
    result = await balance(session, "no-such-unit", TODAY, FeesSettings())
    assert result.settled and result.total == Decimal("0.00")


async def test_only_linked_chats_see_the_unit(
    session: AsyncSession, ledger: str, make_contact: Callable[..., Any], clock: FrozenClock
) -> None:
    owner = await make_contact()
    resident = await link_contact_by_phone(session, owner, "9123 4567", now=clock.now())
    assert resident is not None and resident.role == "owner"
    assert await may_see_unit(session, owner.id, ledger)
    balances = await balances_for_contact(session, owner.id, TODAY, FeesSettings())
    assert balances is not None and balances[0].total == Decimal("2800.00")

    typed = await make_contact()
    assert await link_contact_by_phone(session, typed, "61234567", verified=False) is None
    assert typed.phone == "+85261234567" and not typed.phone_verified
    assert await balances_for_contact(session, typed.id, TODAY, FeesSettings()) is None
    assert not await may_see_unit(session, typed.id, ledger)

    stranger = await make_contact()
    assert await link_contact_by_phone(session, stranger, "98765432", now=clock.now()) is None
    assert await link_contact_by_phone(session, stranger, "not a phone", now=clock.now()) is None
    assert await residents_for_contact(session, stranger.id) == []

    # Linking twice does not duplicate the link.
    await link_contact_by_phone(session, owner, "+85291234567", now=clock.now())
    assert len(await residents_for_contact(session, owner.id)) == 1
