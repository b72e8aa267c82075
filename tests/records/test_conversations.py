"""Order, fee and payment conversations through the real engine, NLU and store, in three
languages: balances for linked residents only, payment methods, payment proofs, order status
with the ownership challenge and lockout, and the shop backend being down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import FeesSettings, LateFeeSettings, OrderHTTPSettings, OrdersSettings, Settings
from bot.records.importing import Kind, import_file
from bot.store.db import Database
from bot.store.models import Ticket
from tests.records.chat import Chat

ROOT = Path(__file__).resolve().parents[2]
RESIDENTS = """
unit,name,phone,role,move_in
3棟2單元1502室,陳大文,91234567,owner,2020-05-01
5棟1單元801室,李小姐,51234567,tenant,2025-03-01
"""
FEES = """
unit,period,item,amount,due_date,paid_amount,paid_at
3棟2單元1502室,2026-09,management fee,1500,2026-09-30,,
3棟2單元1502室,2026-10,management fee,1500,2026-10-31,1000,2026-10-20 10:00
3棟2單元1502室,2026-11,parking,800,2026-11-30,,
5棟1單元801室,2026-11,management fee,1200,2026-11-30,1200,2026-11-15 10:00
"""
ORDERS = """
order_id,phone,email,items,status,carrier,tracking_number,updated_at,eta
SO88412,61234567,,Rice cooker x1,shipped,SF Express,SF1234567890,2026-11-25 14:30,2026-11-28
SO88413,61234567,,Kettle,delivered,SF Express,SF1234567891,2026-11-20 10:00,
"""
OWNER_PHONE = "+85291234567"
SHOPPER_PHONE = "+85261234567"
STRANGER_PHONE = "+85298765432"


@pytest.fixture
async def make_app(
    db: Database, settings: Settings, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[Callable[..., Any]]:
    apps: list[App] = []

    async def make(**overrides: Any) -> App:
        configured = settings.model_copy(
            update={
                "fees": FeesSettings(late_fee=LateFeeSettings(rate=0.05, grace_days=30)),
                **overrides,
            }
        )
        app = build_app(configured, clock=clock, interpreter=interpreter, migrate=False)
        apps.append(app)
        kinds: tuple[tuple[Kind, str], ...] = (
            ("residents", RESIDENTS),
            ("fees", FEES),
            ("orders", ORDERS),
        )
        async with app.db.write() as session:
            for kind, text in kinds:
                path = configured.var_dir / f"{kind}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text.lstrip(), encoding="utf-8")
                result = await import_file(session, kind, path, configured, clock.now())
                assert result.ok, result.errors
        return app

    yield make
    for app in apps:
        await app.close()


async def tickets(app: App) -> list[Ticket]:
    async with app.db.session() as session:
        return list((await session.scalars(select(Ticket).order_by(Ticket.id))).all())


async def test_fee_balance_zh_hant_needs_a_verified_phone(make_app: Callable[..., Any]) -> None:
    app = await make_app()
    chat = Chat(app, "hant-resident")
    reply = await chat.say("我有冇欠費")
    assert "分享電話號碼" in reply, chat.transcript
    assert any(r.request_contact for r in chat.last)
    assert "1,500.00" not in reply

    await chat.say(phone="9123 4567")
    reply = await chat.say("我有冇欠費")
    # Sept 1500 (58 days overdue, +75 late fee), Oct 500 left (27 days overdue), Nov parking 800.
    assert "3棟2單元1502室 尚欠 HKD 2,875.00" in reply, chat.transcript
    assert "2026-09 管理費：HKD 1,500.00（已逾期 58 日，另加滯納金 HKD 75.00）" in reply
    assert "2026-10 管理費：HKD 500.00（已逾期 27 日）" in reply
    assert "2026-11 車位費：HKD 800.00（2026-11-30 到期）" in reply
    assert "其中 HKD 2,075.00 已逾期" in reply


async def test_fee_balance_zh_hans_and_payment_methods(make_app: Callable[..., Any]) -> None:
    app = await make_app()
    chat = Chat(app, "hans-resident")
    reply = await chat.say("我还欠多少物业费", phone="91234567")
    assert "尚欠 HKD 2,875.00" in reply, chat.transcript
    assert "物业费" in reply and "滞纳金" in reply
    reply = await chat.say("怎么交物业费")
    assert "缴费方式" in reply and "微信支付" in reply, chat.transcript


async def test_no_arrears_and_unregistered_phone_en(make_app: Callable[..., Any]) -> None:
    app = await make_app()
    tenant = Chat(app, "en-tenant")
    await tenant.say("/lang en")
    reply = await tenant.say("do I owe any management fees", phone="51234567")
    assert "Block 5, Unit 1, Room 801 has nothing outstanding" in reply, tenant.transcript

    stranger = Chat(app, "en-stranger")
    await stranger.say("/lang en")
    reply = await stranger.say("what is my balance, do I have arrears", phone=STRANGER_PHONE)
    assert "not in the resident register" in reply, stranger.transcript
    assert "HKD" not in reply


async def test_payment_proof_photo_with_caption_en(make_app: Callable[..., Any]) -> None:
    app = await make_app()
    chat = Chat(app, "en-payer")
    await chat.say("/lang en")
    reply = await chat.say("how do I pay")
    assert "FPS" in reply and "Alipay" in reply, chat.transcript
    reply = await chat.say("I paid HK$1,500 on 25 Nov", phone=OWNER_PHONE, photo=True)
    assert "P-20261127-0001" in reply, chat.transcript
    assert "HKD 1,500.00, 2026-11-25" in reply
    [ticket] = await tickets(app)
    assert (ticket.kind, ticket.category, ticket.unit) == (
        "payment",
        "payment_proof",
        "3棟2單元1502室",
    )
    assert ticket.details["amount"] == "1500.00" and ticket.details["paid_on"] == "2026-11-25"
    assert ticket.details["attachments"][0]["file_id"] == "receipt-1"
    assert ticket.contact_phone == OWNER_PHONE


async def test_payment_proof_form_zh_hans(make_app: Callable[..., Any]) -> None:
    app = await make_app()
    chat = Chat(app, "hans-payer")
    reply = await chat.say("我已经缴了物业费", phone="91234567")
    assert "付款凭证" in reply, chat.transcript
    reply = await chat.say(photo=True)
    reply = await chat.say("已经转账1500元，昨天")
    assert "P-20261127-0001" in reply, chat.transcript
    [ticket] = await tickets(app)
    assert ticket.details["paid_on"] == "2026-11-26"
    assert ticket.details["amount"] == "1500.00"
    assert ticket.details["attachments"]


async def test_order_owner_sees_status_en(make_app: Callable[..., Any]) -> None:
    app = await make_app()
    chat = Chat(app, "en-shopper")
    await chat.say("/lang en")
    reply = await chat.say("where is my order SO88412", phone=SHOPPER_PHONE)
    assert "Status: shipped" in reply and "SF1234567890" in reply, chat.transcript
    assert "Expected delivery: 2026-11-28" in reply

    reply = await chat.say("where is my order")
    titles = [t for t, _ in chat.buttons()]
    assert titles == ["SO88412 (shipped)", "SO88413 (delivered)"], chat.transcript
    reply = await chat.say("SO88413 (delivered)", payload=chat.buttons()[1][1])
    assert "Status: delivered" in reply and "Expected delivery: not yet" in reply, chat.transcript


async def test_order_wrong_phone_learns_nothing_and_is_locked_en(
    make_app: Callable[..., Any],
) -> None:
    app = await make_app()
    chat = Chat(app, "en-prober")
    await chat.say("/lang en")
    replies = [await chat.say("where is my order SO88412", phone=STRANGER_PHONE)]
    assert "last four digits" in replies[0], chat.transcript
    replies.append(await chat.say("1111"))
    assert "try 2 more" in replies[-1], chat.transcript
    replies.append(await chat.say("2222"))
    assert "try 1 more" in replies[-1], chat.transcript
    replies.append(await chat.say("3333"))
    assert "paused until" in replies[-1], chat.transcript
    replies.append(await chat.say("where is my order SO88412"))
    assert "paused until" in replies[-1], chat.transcript
    everything = "\n".join(replies)
    for secret in ("SF1234567890", "SF Express", "shipped", "Rice cooker", "4567"):
        assert secret not in everything, chat.transcript

    # Same words for an order number that does not exist.
    other = Chat(app, "en-prober-2")
    await other.say("/lang en")
    made_up = [await other.say("where is my order SO99999", phone="+85251234567")]
    made_up.append(await other.say("1111"))
    assert [r.replace("SO99999", "SO88412") for r in made_up] == replies[:2]


async def test_order_challenge_passed_zh_hant(make_app: Callable[..., Any]) -> None:
    app = await make_app()
    chat = Chat(app, "hant-shopper")
    reply = await chat.say("我的訂單 SO88412 到咗邊")
    assert "最後四位數字" in reply, chat.transcript
    reply = await chat.say("4567")
    assert "狀態：已發貨" in reply and "SF1234567890" in reply, chat.transcript
    assert "預計送達：2026-11-28" in reply


async def test_order_return_request_zh_hant(make_app: Callable[..., Any]) -> None:
    app = await make_app()
    chat = Chat(app, "hant-returner")
    reply = await chat.say("我想退貨 SO88412", phone=SHOPPER_PHONE)
    assert "退貨" in reply and "O-20261127-0001" in reply, chat.transcript
    [ticket] = await tickets(app)
    assert (ticket.kind, ticket.category) == ("order", "return")
    assert ticket.details["order_id"] == "SO88412"


async def test_shop_backend_down_opens_a_ticket_zh_hans(make_app: Callable[..., Any]) -> None:
    down = OrdersSettings(
        source="http",
        http=OrderHTTPSettings(
            url_template="http://127.0.0.1:9/orders/{order_id}", timeout=0.2, retries=0
        ),
    )
    app = await make_app(orders=down)
    chat = Chat(app, "hans-shopper")
    reply = await chat.say("我的订单SO88412到哪了", phone=SHOPPER_PHONE)
    assert "订单系统暂时无法响应" in reply and "O-20261127-0001" in reply, chat.transcript
    assert "Traceback" not in reply
    [ticket] = await tickets(app)
    assert (ticket.kind, ticket.category) == ("order", "status_unavailable")
    assert ticket.details["order_id"] == "SO88412"


def test_order_and_payment_intents_go_to_these_actions(settings: Settings) -> None:
    from bot.dialogue.domain import load_domain

    rules = load_domain(ROOT / "dialogues").intent_rules()
    assert rules["order"] == ["action_order_status"]
    assert rules["payment"] == ["action_payment"]
