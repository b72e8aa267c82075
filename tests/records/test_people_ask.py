"""Fees, payments and shoppers as people write (#13 items 8 and 9), through the real engine, NLU
and store on SQLite and PostgreSQL: "have I paid this month" is a balance, a fee charged wrongly
is a complaint about fees, the payment-proof flow starts only when someone says they paid, a late
delivery is said to be late and offered a chase or a refund, order numbers are read whole, a
tracking number is not an order number, and a corrected order number is no failed check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.records.importing import Kind, import_file
from bot.records.models import OrderLookupAttempt
from bot.store.db import Database
from bot.store.models import Conversation, Ticket
from tests.records.chat import Chat

ROOT = Path(__file__).resolve().parents[2]
RESIDENTS = """
unit,name,phone,role,move_in
3棟2單元1502室,陳大文,91234567,owner,2020-05-01
"""
FEES = """
unit,period,item,amount,due_date,paid_amount,paid_at
3棟2單元1502室,2026-11,management fee,1500,2026-11-30,,
"""
# The clock says Friday 2026-11-27 10:00: the rice cooker was due on the 24th.
ORDERS = """
order_id,phone,email,items,status,carrier,tracking_number,updated_at,eta
SO-2026-1120-001,61234567,,Rice cooker,shipped,SF Express,SF1234567890,2026-11-21 09:00,2026-11-24
SO-2026-1130-006,61234567,,Kettle,processing,,,2026-11-26 10:00,2026-11-30
"""
RESIDENT_PHONE = "+85291234567"
SHOPPER_PHONE = "+85261234567"


@pytest.fixture
async def app(
    db: Database, settings: Settings, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[App]:
    built = build_app(settings, clock=clock, interpreter=interpreter, migrate=False)
    kinds: tuple[tuple[Kind, str], ...] = (
        ("residents", RESIDENTS),
        ("fees", FEES),
        ("orders", ORDERS),
    )
    async with built.db.write() as session:
        for kind, text in kinds:
            path = settings.var_dir / f"{kind}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.lstrip(), encoding="utf-8")
            result = await import_file(session, kind, path, settings, clock.now())
            assert result.ok, result.errors
    yield built
    await built.close()


@pytest.fixture
def chat(app: App) -> Callable[[str], Chat]:
    return lambda user: Chat(app, user)


async def tickets(app: App) -> list[Ticket]:
    async with app.db.session() as session:
        return list((await session.scalars(select(Ticket).order_by(Ticket.id))).all())


# --- item 8: fees and payments ------------------------------------------------------------------


async def test_have_i_paid_this_month_is_a_balance_zh_hant(
    app: App, chat: Callable[[str], Chat]
) -> None:
    stranger = chat("hant-unlinked")
    reply = await stranger.say("我今個月管理費交咗未")
    assert "分享電話號碼" in reply, stranger.transcript
    assert "付款收據" not in reply and "轉數快" not in reply

    resident = chat("hant-linked")
    reply = await resident.say("我今個月管理費交咗未", phone=RESIDENT_PHONE)
    assert "3棟2單元1502室 尚欠 HKD 1,500.00" in reply, resident.transcript
    assert "2026-11 管理費：HKD 1,500.00（2026-11-30 到期）" in reply
    assert "付款收據" not in reply
    assert await tickets(app) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("點樣俾錢", "繳費方法"),
        ("可唔可以用轉數快", "轉數快 FPS：識別碼"),
        ("怎么交物业费", "缴费方式"),
        ("can I pay the management fee by FPS?", "Ways to pay"),
    ],
)
async def test_payment_methods(
    app: App, chat: Callable[[str], Chat], text: str, words: str
) -> None:
    person = chat("payer")
    if text.isascii():
        await person.say("/lang en")
    reply = await person.say(text)
    assert words in reply, person.transcript
    assert await tickets(app) == []


async def test_fee_dispute_is_a_complaint_about_fees_en(
    app: App, chat: Callable[[str], Chat]
) -> None:
    person = chat("en-disputer")
    await person.say("/lang en")
    reply = await person.say("you charged 2300 but my lease says 2100", phone=RESIDENT_PHONE)
    assert "anonymous" in reply.lower(), person.transcript
    await person.say("Use my name")
    reply = await person.say("Confirm")
    assert "C-20261127-0001" in reply, person.transcript
    [ticket] = await tickets(app)
    assert (ticket.kind, ticket.category) == ("complaint", "fees")
    assert "2300" in ticket.description


async def test_fee_dispute_is_a_complaint_about_fees_zh_hant(
    app: App, chat: Callable[[str], Chat]
) -> None:
    person = chat("hant-disputer")
    reply = await person.say("管理費計錯咗，收多咗我200蚊", phone=RESIDENT_PHONE)
    assert "匿名" in reply, person.transcript
    await person.say("唔使匿名")
    reply = await person.say("確認提交")
    assert "C-20261127-0001" in reply, person.transcript
    [ticket] = await tickets(app)
    assert (ticket.kind, ticket.category) == ("complaint", "fees")


async def test_fee_dispute_is_a_complaint_about_fees_zh_hans(
    app: App, chat: Callable[[str], Chat]
) -> None:
    person = chat("hans-disputer")
    reply = await person.say("物业费算错了，这个月多收了我两百块")
    assert "匿名" in reply, person.transcript
    assert "付款凭证" not in reply and "缴费方式" not in reply
    async with app.db.session() as session:
        form = await session.scalar(select(Conversation.active_form))
    assert form == "complaint_form"


async def test_payment_proof_only_after_saying_paid_and_never_an_unrelated_sentence(
    app: App, chat: Callable[[str], Chat]
) -> None:
    person = chat("en-payer")
    await person.say("/lang en")
    reply = await person.say("I've transferred it", phone=RESIDENT_PHONE)
    assert "photo of the receipt" in reply, person.transcript
    reply = await person.say("Use my name")
    assert "photo of the payment receipt" in reply, person.transcript
    assert await tickets(app) == []
    reply = await person.say(photo=True)
    reply = await person.say("HK$1,500 yesterday")
    assert "P-20261127-0001" in reply, person.transcript
    [ticket] = await tickets(app)
    assert (ticket.kind, ticket.category) == ("payment", "payment_proof")
    assert "Use my name" not in ticket.description
    assert ticket.details["amount"] == "1500.00"

    cantonese = chat("hant-payer")
    reply = await cantonese.say("我已經過咗數")
    assert "付款收據" in reply or "轉賬記錄" in reply, cantonese.transcript


# --- item 9: shoppers ---------------------------------------------------------------------------


async def test_late_delivery_is_said_late_and_a_chase_opens_an_order_ticket_zh_hant(
    app: App, chat: Callable[[str], Chat]
) -> None:
    shopper = chat("hant-shopper")
    reply = await shopper.say("點解仲未到", phone=SHOPPER_PHONE)
    assert "訂單 SO-2026-1120-001" in reply and "狀態：已發貨" in reply, shopper.transcript
    assert "原定 2026-11-24 送到，已經遲咗 3 日" in reply
    reply = await shopper.say(shopper.button("幫我催貨"))
    assert "催貨" in reply and "O-20261127-0001" in reply, shopper.transcript
    [ticket] = await tickets(app)
    assert (ticket.kind, ticket.category) == ("order", "chase")
    assert ticket.details["order_id"] == "SO-2026-1120-001"


async def test_late_order_then_just_refund_me_en(app: App, chat: Callable[[str], Chat]) -> None:
    shopper = chat("en-shopper")
    await shopper.say("/lang en")
    reply = await shopper.say("my order SO-2026-1120-001 hasn't arrived", phone=SHOPPER_PHONE)
    assert "was due on 2026-11-24 and is 3 day(s) late" in reply, shopper.transcript
    reply = await shopper.say("just refund me")
    assert "refund request is logged as O-20261127-0001" in reply, shopper.transcript
    [ticket] = await tickets(app)
    assert (ticket.kind, ticket.category) == ("order", "refund")
    assert ticket.details["order_id"] == "SO-2026-1120-001"


async def test_late_order_chase_zh_hans(app: App, chat: Callable[[str], Chat]) -> None:
    shopper = chat("hans-shopper")
    reply = await shopper.say("怎么还没到", phone=SHOPPER_PHONE)
    assert "已经晚了 3 天" in reply, shopper.transcript
    reply = await shopper.say("帮我催一下")
    assert "O-20261127-0001" in reply, shopper.transcript
    [ticket] = await tickets(app)
    assert (ticket.category, ticket.details["order_id"]) == ("chase", "SO-2026-1120-001")


async def test_an_order_on_time_is_not_called_late_and_spaced_numbers_are_read_whole(
    app: App, chat: Callable[[str], Chat]
) -> None:
    shopper = chat("hant-early")
    reply = await shopper.say("SO 2026 1130 006 點解仲未到", phone=SHOPPER_PHONE)
    assert "訂單 SO-2026-1130-006" in reply and "預計送達：2026-11-30" in reply, shopper.transcript
    assert "遲咗" not in reply
    assert await tickets(app) == []


async def test_a_tracking_number_is_not_an_order_number(
    app: App, chat: Callable[[str], Chat]
) -> None:
    stranger = chat("hant-tracker")
    reply = await stranger.say("運單號 SF1234567890 到咗未")
    assert "係物流公司嘅運單號碼，唔係訂單號碼" in reply, stranger.transcript
    assert "最後四位" not in reply and "Rice" not in reply

    owner = chat("en-tracker")
    await owner.say("/lang en")
    reply = await owner.say("my tracking number is SF1234567890 where is it", phone=SHOPPER_PHONE)
    assert "Order SO-2026-1120-001" in reply, owner.transcript
    async with app.db.session() as session:
        assert (await session.scalars(select(OrderLookupAttempt))).all() == []


async def test_a_corrected_order_number_is_not_a_failed_check_zh_hant(
    app: App, chat: Callable[[str], Chat]
) -> None:
    shopper = chat("hant-typo")
    reply = await shopper.say("我嘅訂單 SO-2026-1120-002 到咗邊")
    assert "訂單 SO-2026-1120-002" in reply and "最後四位" in reply, shopper.transcript
    reply = await shopper.say("唔好意思 打錯 係SO-2026-1120-001")
    assert "訂單 SO-2026-1120-001" in reply and "最後四位" in reply, shopper.transcript
    assert "再試" not in reply
    reply = await shopper.say("唔記得喎")
    assert "最後四位" in reply and "再試" not in reply, shopper.transcript
    reply = await shopper.say("4567")
    assert "狀態：已發貨" in reply and "已經遲咗 3 日" in reply, shopper.transcript
    async with app.db.session() as session:
        outcomes = (await session.scalars(select(OrderLookupAttempt.outcome))).all()
    assert "fail" not in outcomes, outcomes


async def test_a_bare_order_number_is_looked_up_not_goodbye(
    app: App, chat: Callable[[str], Chat]
) -> None:
    stranger = chat("hant-bare")
    reply = await stranger.say("我張訂單去咗邊")
    assert "訂單號碼" in reply, stranger.transcript
    reply = await stranger.say("SO-2026-1130-006")
    assert "訂單 SO-2026-1130-006" in reply and "最後四位" in reply, stranger.transcript

    owner = chat("en-bare")
    await owner.say("/lang en")
    reply = await owner.say("SO 2026 1130 006", phone=SHOPPER_PHONE)
    assert "Order SO-2026-1130-006" in reply and "Status: being prepared" in reply, owner.transcript
