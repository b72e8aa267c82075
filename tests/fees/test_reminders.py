"""Fee reminders (#15 part 2) through the real app, worker and store, SQLite and PostgreSQL:
the schedule per item, grouped per unit, escalating wording, stops (paid, disputed,
arrangement), quiet hours, finance's confirmation, two workers, arrears and collection rate."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.fees.collection import arrears, collection_rates
from bot.fees.confirm import ConfirmError, confirm_payment
from bot.fees.models import FeeArrangement, FeeReminder, ReminderStatus
from bot.followups import FollowupWorker
from bot.followups.models import Followup
from bot.records.models import FeeItem
from bot.store.models import Conversation, Message, Ticket
from bot.tickets.service import open_ticket
from tests.fees.support import fee, household

TODAY = date(2026, 11, 27)


async def sent_to(app: App, conversation_id: int | None) -> list[Message]:
    async with app.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation_id, Message.direction == "out")
                    .order_by(Message.id)
                )
            ).all()
        )


async def drain(*workers: FollowupWorker) -> None:
    """Wake the workers until nothing is due (the daily run schedules the reminders it plans
    for the next round, as the next wake-up of ``kefu run`` would send them)."""
    while sum(await asyncio.gather(*(w.run_until_idle() for w in workers))):
        pass


def at(clock: FrozenClock, day: date, hour: int = 10, minute: int = 0) -> None:
    clock.set(datetime.combine(day, time(hour, minute), tzinfo=clock.tz))


async def test_schedule_groups_per_unit_escalates_and_stops_when_paid(
    app: App, clock: FrozenClock
) -> None:
    now = clock.now()
    async with app.db.write() as s:
        unit, chat = await household(
            s, "3棟2單元1502室", now=now, phone="+85291230001", chat_id="a"
        )
        due = TODAY + timedelta(days=7)
        mgmt = await fee(s, unit, "2026-12", "management", "1500", due, now=now)
        parking = await fee(s, unit, "2026-12", "parking", "800", due, now=now)
    worker = app.followup_worker()

    await drain(worker)
    await drain(worker)  # a second round the same day adds nothing
    first = await sent_to(app, chat)
    assert len(first) == 1, [m.text for m in first]
    assert "due soon" in first[0].text
    assert "1,500.00" in first[0].text and "800.00" in first[0].text
    assert "2,300.00" in first[0].text and "2026-12" in first[0].text
    buttons = first[0].data["buttons"]
    assert [b["title"] for b in buttons] == ["How to pay"]
    assert buttons[0]["payload"] == '/payment{"payment_topic":"methods"}'

    at(clock, due)
    await drain(worker)
    second = (await sent_to(app, chat))[1:]
    assert len(second) == 1 and "due today" in second[0].text

    async with app.db.write() as s:
        row = await s.get_one(FeeItem, parking.id)
        row.paid_amount = Decimal("800")
    at(clock, due + timedelta(days=7))
    await drain(worker)
    third = (await sent_to(app, chat))[2:]
    assert len(third) == 1 and "not yet received" in third[0].text
    assert "1,500.00" in third[0].text and "800.00" not in third[0].text

    async with app.db.write() as s:
        row = await s.get_one(FeeItem, mgmt.id)
        row.paid_amount = Decimal("1500")
    at(clock, due + timedelta(days=30))
    await drain(worker)
    assert len(await sent_to(app, chat)) == 3  # paid: the +30 reminder never goes out


async def test_arrangement_dispute_and_no_chat_get_no_message(app: App, clock: FrozenClock) -> None:
    now = clock.now()
    async with app.db.write() as s:
        arranged, arranged_chat = await household(
            s, "1座1201室", now=now, phone="+85291230002", chat_id="b"
        )
        disputed, disputed_chat = await household(
            s, "1座1202室", now=now, phone="+85291230003", chat_id="c"
        )
        phone_only, _ = await household(s, "1座1203室", now=now, phone="+85291230004", chat_id=None)
        control, control_chat = await household(
            s, "1座1204室", now=now, phone="+85291230005", chat_id="e", language="zh-Hant"
        )
        for unit in (arranged, disputed, phone_only, control):
            await fee(s, unit, "2026-11", "management", "1200", TODAY, now=now)
        s.add(
            FeeArrangement(
                unit_key=arranged, starts_on=TODAY, note="", created_by="staff:t", created_at=now
            )
        )
        conversation = await s.get_one(Conversation, disputed_chat)
        await open_ticket(
            s,
            kind="complaint",
            category="fees",
            now=now,
            actor="customer",
            description="you charged 1200 but my lease says 1000",
            contact_id=conversation.contact_id,
            conversation_id=disputed_chat,
        )
    await drain(app.followup_worker())

    assert await sent_to(app, arranged_chat) == []
    assert await sent_to(app, disputed_chat) == []
    control_sent = await sent_to(app, control_chat)
    assert len(control_sent) == 1 and "今日到期" in control_sent[0].text
    async with app.db.session() as s:
        owed = {a.unit_key: a for a in await arrears(s, TODAY + timedelta(days=1))}
    assert owed[phone_only].linked is False and owed[phone_only].reminders_sent == 0
    assert owed[arranged].stopped == "arrangement"
    assert owed[disputed].stopped == "disputed"
    assert owed[control].reminders_sent == 1 and owed[control].last_contact is not None


async def test_quiet_hours_hold_the_message_and_a_payment_meanwhile_stops_it(
    app: App, clock: FrozenClock
) -> None:
    app.settings.fees.reminders.send_at = time(21, 30)  # the run itself falls in quiet hours
    at(clock, TODAY, 21, 30)
    now = clock.now()
    async with app.db.write() as s:
        waits, waits_chat = await household(
            s, "2座301室", now=now, phone="+85291230006", chat_id="f"
        )
        pays, pays_chat = await household(s, "2座302室", now=now, phone="+85291230007", chat_id="g")
        await fee(s, waits, "2026-11", "management", "900", TODAY, now=now)
        paid_later = await fee(s, pays, "2026-11", "management", "900", TODAY, now=now)
    worker = app.followup_worker()
    await drain(worker)
    assert await sent_to(app, waits_chat) == [] and await sent_to(app, pays_chat) == []
    async with app.db.session() as s:
        held = (await s.scalars(select(Followup).where(Followup.kind == "fee_reminder"))).all()
    morning = datetime.combine(TODAY + timedelta(days=1), time(9, 0), tzinfo=clock.tz)
    assert {f.due_at for f in held} == {morning} and {f.status for f in held} == {"pending"}

    async with app.db.write() as s:
        (await s.get_one(FeeItem, paid_later.id)).paid_amount = Decimal("900")
    at(clock, TODAY + timedelta(days=1), 8, 59)
    await drain(worker)
    assert await sent_to(app, waits_chat) == []
    at(clock, TODAY + timedelta(days=1), 9, 0)
    await drain(worker)
    sent = await sent_to(app, waits_chat)
    assert len(sent) == 1 and sent[0].created_at >= morning
    assert await sent_to(app, pays_chat) == []
    async with app.db.session() as s:
        statuses = {
            (r.unit_key, r.status, r.reason) for r in (await s.scalars(select(FeeReminder))).all()
        }
    assert statuses == {(waits, ReminderStatus.SENT, None), (pays, ReminderStatus.SKIPPED, "paid")}


async def test_finance_confirms_a_proof_ledger_thanks_and_no_more_reminders(
    app: App, clock: FrozenClock
) -> None:
    now = clock.now()
    async with app.db.write() as s:
        unit, chat = await household(s, "5座808室", now=now, phone="+85291230008", chat_id="h")
        await fee(s, unit, "2026-10", "management", "1500", date(2026, 10, 31), now=now)
        await fee(s, unit, "2026-11", "management", "1500", date(2026, 12, 10), now=now)
        conversation = await s.get_one(Conversation, chat)
        proof = await open_ticket(
            s,
            kind="payment",
            category="payment_proof",
            now=now,
            actor="customer",
            description="paid 2000 by FPS",
            contact_id=conversation.contact_id,
            conversation_id=chat,
            details={"amount": "2000.00", "currency": "HKD"},
        )
        number = proof.number
    async with app.db.write() as s:
        result = await confirm_payment(s, number, settings=app.settings, now=now, actor="staff:f")
    assert result.applied == [
        ("2026-10", "management", Decimal("1500.00")),
        ("2026-11", "management", Decimal("500.00")),
    ]
    assert result.outstanding == Decimal("1000.00") and result.thanked
    async with app.db.write() as s:
        with pytest.raises(ConfirmError, match="confirmed already"):
            await confirm_payment(s, number, settings=app.settings, now=now, actor="staff:f")
    async with app.db.write() as s:
        with pytest.raises(ConfirmError, match="no ticket"):
            await confirm_payment(s, "P-20261127-9999", settings=app.settings, now=now, actor="x")

    await drain(app.followup_worker())
    texts = [m.text for m in await sent_to(app, chat)]
    assert len(texts) == 1, texts  # the thanks; 2026-10 is paid, 2026-11 not due for 13 days
    assert "Finance has confirmed your payment of HKD 2,000.00" in texts[0]
    assert "1,000.00" in texts[0]
    async with app.db.session() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None and ticket.status == "resolved"
        assert "payment_confirmed" in {e.action for e in await s.run_sync(lambda _: ticket.events)}


async def test_two_workers_send_each_unit_one_message(app: App, clock: FrozenClock) -> None:
    now = clock.now()
    chats = []
    async with app.db.write() as s:
        for i in range(30):
            unit, chat = await household(
                s, f"8座{1000 + i}室", now=now, phone=f"+852912{40000 + i}", chat_id=f"w{i}"
            )
            chats.append(chat)
            await fee(s, unit, "2026-11", "management", "1000", TODAY, now=now)
            await fee(s, unit, "2026-11", "water", "100", TODAY, now=now)
    first, second = app.followup_worker(), app.followup_worker()
    assert first.worker_id != second.worker_id
    small = [
        FollowupWorker(w.db, w.settings, w.clock, w.handlers, batch_size=3) for w in (first, second)
    ]
    for worker in small:
        worker.seeds = first.seeds
    await drain(*small)
    counts = [len(await sent_to(app, chat)) for chat in chats]
    assert counts == [1] * 30


async def test_collection_rate_per_period_and_building(app: App, clock: FrozenClock) -> None:
    now = clock.now()
    async with app.db.write() as s:
        a, _ = await household(s, "1座101室", now=now, phone="+85291230011", chat_id=None)
        b, _ = await household(s, "1座102室", now=now, phone="+85291230012", chat_id=None)
        c, _ = await household(s, "2座101室", now=now, phone="+85291230013", chat_id=None)
        await fee(s, a, "2026-10", "management", "1000", date(2026, 10, 31), now=now, paid="1000")
        await fee(s, b, "2026-10", "management", "1000", date(2026, 10, 31), now=now, paid="500")
        await fee(s, c, "2026-10", "management", "2000", date(2026, 10, 31), now=now)
        await fee(s, a, "2026-12", "management", "1000", date(2026, 12, 31), now=now)
    async with app.db.session() as s:
        rows = await collection_rates(s, due_before=TODAY)
        overall = await collection_rates(s, due_before=TODAY, by_building=False)
    by = {(r.period, r.building): r for r in rows}
    assert set(by) == {("2026-10", "1"), ("2026-10", "2")}
    assert by[("2026-10", "1")].rate == pytest.approx(0.75)
    assert by[("2026-10", "2")].rate == 0.0
    assert [(r.period, r.units, r.billed, r.collected) for r in overall] == [
        ("2026-10", 3, Decimal("4000.00"), Decimal("1500.00"))
    ]
