"""Order look-ups: owners see their orders; everyone else learns nothing and gets locked out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import FrozenClock
from bot.config import OrdersSettings, Settings
from bot.records.importing import import_file
from bot.records.models import OrderLookupAttempt
from bot.records.order_sources import TableOrderSource
from bot.records.orders import (
    ChallengeFailed,
    ChallengeNeeded,
    Disclosed,
    InvalidOrderRef,
    Locked,
    NeedVerifiedContact,
    OrderAlert,
    OrderService,
    RecentOrders,
)

ORDERS = """
order_id,phone,email,items,status,carrier,tracking_number,updated_at,eta
SO88412,91234567,,Rice cooker x1,shipped,SF Express,SF1234567890,2026-11-25 14:30,2026-11-28
SO88413,91234567,,Kettle,delivered,SF Express,SF1234567891,2026-11-20 10:00,
SO77001,+852 6123 4567,carol@example.com,Lamp,processing,,,2026-11-26 09:00,
SO77002,,dave@example.com,Mug,pending,,,,
"""


@pytest.fixture
async def service(
    session: AsyncSession,
    settings: Settings,
    clock: FrozenClock,
    write_csv: Callable[[str, str], Path],
) -> tuple[OrderService, list[OrderAlert]]:
    result = await import_file(
        session, "orders", write_csv("orders.csv", ORDERS), settings, clock.now()
    )
    assert result.ok, result.errors
    alerts: list[OrderAlert] = []
    config = OrdersSettings(
        lockout=timedelta(minutes=30), max_lookups=10, lookup_window=timedelta(hours=1)
    )
    return OrderService(
        TableOrderSource(), config, alert=lambda alert, _session: alerts.append(alert)
    ), alerts


def shape(result: Any) -> tuple[str, dict[str, Any]]:
    """What the user could observe: the outcome type and its fields minus the echoed ref."""
    fields = {k: getattr(result, k) for k in result.__slots__ if k != "order_ref"}
    return type(result).__name__, fields


async def test_verified_owner_sees_order(
    session: AsyncSession,
    service: tuple[OrderService, list[OrderAlert]],
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    svc, _ = service
    owner = await make_contact(phone="+85291234567", verified=True)
    result = await svc.lookup(session, owner, "#so88412", clock.now())
    assert isinstance(result, Disclosed) and result.via == "owner"
    public = result.order.public()
    assert public["tracking_number"] == "SF1234567890"
    assert "phone" not in public and "email" not in public


async def test_unverified_phone_is_not_ownership(
    session: AsyncSession,
    service: tuple[OrderService, list[OrderAlert]],
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    svc, _ = service
    typed = await make_contact(phone="+85291234567", verified=False)
    assert isinstance(await svc.lookup(session, typed, "SO88412", clock.now()), ChallengeNeeded)


async def test_wrong_phone_learns_nothing_and_is_locked_after_three_tries(
    session: AsyncSession,
    service: tuple[OrderService, list[OrderAlert]],
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    svc, alerts = service
    stranger = await make_contact(phone="+85298765432", verified=True)
    prober = await make_contact(phone="+85251234567", verified=True)
    now = clock.now()

    # A real order and a made-up one look exactly the same to a stranger.
    real = await svc.lookup(session, stranger, "SO88412", now)
    fake = await svc.lookup(session, prober, "SO99999", now)
    assert isinstance(real, ChallengeNeeded) and isinstance(fake, ChallengeNeeded)
    assert shape(real) == shape(fake)

    observed_real = []
    observed_fake = []
    for guess in ("0000", "1234", "9999"):
        observed_real.append(await svc.verify_challenge(session, stranger, "SO88412", guess, now))
        observed_fake.append(await svc.verify_challenge(session, prober, "SO99999", guess, now))
    assert [shape(r) for r in observed_real] == [shape(r) for r in observed_fake]
    assert isinstance(observed_real[0], ChallengeFailed)
    assert observed_real[0].attempts_left == 2
    assert isinstance(observed_real[-1], Locked)
    assert observed_real[-1].until == now + timedelta(minutes=30)
    assert len(alerts) == 2 and {a.contact_id for a in alerts} == {stranger.id, prober.id}
    for result in observed_real:
        assert "SF1234567890" not in repr(result) and "Rice" not in repr(result)

    # Locked: even the right answer and other orders get nothing, until the lock ends.
    clock.advance(minutes=10)
    assert isinstance(
        await svc.verify_challenge(session, stranger, "SO88412", "4567", clock.now()), Locked
    )
    assert isinstance(await svc.lookup(session, stranger, "SO77001", clock.now()), Locked)
    clock.advance(minutes=21)
    passed = await svc.verify_challenge(session, stranger, "SO88412", "4567", clock.now())
    assert isinstance(passed, Disclosed) and passed.via == "challenge"


async def test_challenge_accepts_last_four_full_phone_or_email(
    session: AsyncSession,
    service: tuple[OrderService, list[OrderAlert]],
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    svc, _ = service
    guest = await make_contact()
    now = clock.now()
    assert isinstance(await svc.verify_challenge(session, guest, "SO77001", "4567", now), Disclosed)
    assert isinstance(
        await svc.verify_challenge(session, guest, "SO77001", "6123 4567", now), Disclosed
    )
    assert isinstance(
        await svc.verify_challenge(session, guest, "SO77002", "Dave@Example.com", now), Disclosed
    )
    wrong = await svc.verify_challenge(session, guest, "SO77002", "4567", now)
    assert isinstance(wrong, ChallengeFailed)


async def test_failures_do_not_reset_by_passing_own_order(
    session: AsyncSession,
    service: tuple[OrderService, list[OrderAlert]],
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    svc, _ = service
    attacker = await make_contact()
    now = clock.now()
    await svc.verify_challenge(session, attacker, "SO88412", "0001", now)
    await svc.verify_challenge(session, attacker, "SO88412", "0002", now)
    assert isinstance(
        await svc.verify_challenge(session, attacker, "SO77001", "4567", now), Disclosed
    )
    assert isinstance(await svc.verify_challenge(session, attacker, "SO88412", "0003", now), Locked)


async def test_many_contacts_guessing_one_order_lock_the_order(
    session: AsyncSession,
    settings: Settings,
    make_contact: Callable[..., Any],
    clock: FrozenClock,
    write_csv: Callable[[str, str], Path],
) -> None:
    await import_file(session, "orders", write_csv("o.csv", ORDERS), settings, clock.now())
    alerts: list[OrderAlert] = []
    svc = OrderService(
        TableOrderSource(),
        OrdersSettings(max_order_failures=4),
        alert=lambda alert, _session: alerts.append(alert),
    )
    now = clock.now()
    outcomes = []
    for guess in ("0001", "0002", "0003", "0004"):
        bot_contact = await make_contact()
        outcomes.append(await svc.verify_challenge(session, bot_contact, "SO88412", guess, now))
    assert isinstance(outcomes[-1], Locked) and outcomes[-1].reason == "order"
    fresh = await make_contact()
    assert isinstance(await svc.verify_challenge(session, fresh, "SO88412", "4567", now), Locked)
    assert alerts[-1].contact_id is None


async def test_probing_is_rate_limited(
    session: AsyncSession,
    service: tuple[OrderService, list[OrderAlert]],
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    svc, _ = service
    prober = await make_contact()
    results = [await svc.lookup(session, prober, f"SO{90000 + i}", clock.now()) for i in range(11)]
    assert all(isinstance(r, ChallengeNeeded) for r in results[:10])
    assert isinstance(results[10], Locked) and results[10].reason == "rate_limit"
    rows = (await session.scalars(select(OrderLookupAttempt))).all()
    assert len(rows) == 10
    clock.advance(hours=1, seconds=1)
    assert isinstance(await svc.lookup(session, prober, "SO90011", clock.now()), ChallengeNeeded)


async def test_recent_orders_only_for_verified_and_newest_first(
    session: AsyncSession,
    service: tuple[OrderService, list[OrderAlert]],
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    svc, _ = service
    owner = await make_contact(phone="+85291234567", verified=True)
    recent = await svc.recent_orders(session, owner)
    assert isinstance(recent, RecentOrders)
    assert [o.order_id for o in recent.orders] == ["SO88412", "SO88413"]
    anonymous = await make_contact(phone="+85291234567", verified=False)
    assert isinstance(await svc.recent_orders(session, anonymous), NeedVerifiedContact)
    emailer = await make_contact(email="dave@example.com")
    assert isinstance(await svc.recent_orders(session, emailer), NeedVerifiedContact)
    trusting = OrderService(TableOrderSource(), OrdersSettings(trust_contact_email=True))
    listed = await trusting.recent_orders(session, emailer)
    assert isinstance(listed, RecentOrders) and [o.order_id for o in listed.orders] == ["SO77002"]


async def test_garbage_order_numbers(
    session: AsyncSession,
    service: tuple[OrderService, list[OrderAlert]],
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    svc, _ = service
    contact = await make_contact()
    for text in ("", "   ", "💥💥", "x" * 500, "'; DROP TABLE orders; --"):
        assert isinstance(await svc.lookup(session, contact, text, clock.now()), InvalidOrderRef)
        assert isinstance(
            await svc.verify_challenge(session, contact, text, "1234", clock.now()),
            InvalidOrderRef,
        )
    weird = await svc.verify_challenge(session, contact, "SO88412", "\x00" * 10_000, clock.now())
    assert isinstance(weird, ChallengeFailed)
