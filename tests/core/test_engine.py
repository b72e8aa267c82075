"""The engine's promises: once per delivery, nothing lost, nothing sent twice, state survives."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.dialogue.claims import SEND_LEASE
from bot.messages import Attachment, InboundMessage
from bot.store.models import Conversation, Message, Ticket

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock, interpreter: Any) -> App:
    application = build_app(settings, clock=clock, interpreter=interpreter)
    yield application
    await application.close()


# PostgreSQL databases are shared by the tests of a module: each test is its own user.
CHAT = {"id": "42"}


@pytest.fixture(autouse=True)
def _own_user() -> None:
    CHAT["id"] = uuid.uuid4().hex[:12]


def msg(text: str = "", **kw: Any) -> InboundMessage:
    kw.setdefault("user_id", CHAT["id"])
    kw.setdefault("chat_id", CHAT["id"])
    kw.setdefault("delivery_id", None)
    if kw["delivery_id"]:
        kw["delivery_id"] = f"{CHAT['id']}:{kw['delivery_id']}"
    return InboundMessage(channel="test", text=text, **kw)


async def count(app: App, model: Any, *where: Any) -> int:
    async with app.db.session() as s:
        conversation = (
            await s.execute(select(Conversation.id).where(Conversation.chat_id == CHAT["id"]))
        ).scalar_one()
        stmt = (
            select(func.count())
            .select_from(model)
            .where(model.conversation_id == conversation, *where)
        )
        return int((await s.execute(stmt)).scalar_one())


async def stored_inbound(app: App) -> Message:
    async with app.db.session() as s:
        return (
            await s.execute(
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.chat_id == CHAT["id"], Message.direction == "in")
            )
        ).scalar_one()


async def test_redelivery_replays_unsent_replies_and_runs_nothing_twice(
    app: App, clock: FrozenClock
) -> None:
    first = await app.engine.handle(
        msg("廚房水龍頭漏水，3棟2單元1502室，電話91234567", delivery_id="u1")
    )
    assert first and all(r.id for r in first)
    text = "廚房水龍頭漏水，3棟2單元1502室，電話91234567"
    # The first delivery holds its replies (it is sending them): a redelivery leaves them.
    assert await app.engine.handle(msg(text, delivery_id="u1")) == []
    clock.advance(SEND_LEASE)  # the first delivery's process died: its claim ran out
    again = await app.engine.handle(msg(text, delivery_id="u1"))
    assert [r.id for r in again] == [r.id for r in first]  # the same stored replies, not new ones
    for reply in first:
        await app.engine.mark_sent(reply.id, "m1")
    assert await app.engine.handle(msg("x", delivery_id="u1")) == []  # all sent: nothing to send
    assert await count(app, Message, Message.direction == "in") == 1


async def test_submitting_twice_by_redelivery_opens_one_ticket(app: App) -> None:
    for text in ["部電梯壞咗", "B座12樓A室", "今日內", "91234567"]:
        await app.engine.handle(msg(text))
    await app.engine.handle(msg("確認提交", payload="/affirm", delivery_id="confirm-1"))
    await app.engine.handle(msg("確認提交", payload="/affirm", delivery_id="confirm-1"))
    assert await count(app, Ticket) == 1


async def test_every_message_is_stored_both_ways(app: App) -> None:
    await app.engine.handle(msg("你好"))
    await app.engine.handle(msg("   "))
    await app.engine.handle(msg("😀😀😀"))
    assert await count(app, Message, Message.direction == "in") == 3
    assert await count(app, Message, Message.direction == "out") >= 3


async def test_long_messages_are_stored_whole(app: App) -> None:
    text = "漏水" * 5000
    replies = await app.engine.handle(msg(text))
    stored = await stored_inbound(app)
    assert stored.text == text
    assert any("1000" in r.text for r in replies)


async def test_a_failing_action_still_keeps_the_message(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(app.engine.policy, "decide", boom)
    replies = await app.engine.handle(msg("我要報修"))
    assert len(replies) == 1 and "系統" in replies[0].text
    stored = await stored_inbound(app)
    assert stored.text == "我要報修" and stored.data.get("failed") is True


async def test_state_survives_a_restart(
    settings: Settings, clock: FrozenClock, interpreter: Any
) -> None:
    first = build_app(settings, clock=clock, interpreter=interpreter)
    await first.engine.handle(msg("浴室天花板漏水"))
    await first.close()
    second = build_app(settings, clock=clock, interpreter=interpreter)
    try:
        resumed = await second.engine.resume("test", CHAT["id"])
        assert resumed and "繼續" in resumed[0].text
        replies = await second.engine.handle(msg("3棟2單元1502室"))
        assert any("上門" in r.text for r in replies)
        async with second.db.session() as s:
            conversation = (
                await s.execute(select(Conversation).where(Conversation.chat_id == CHAT["id"]))
            ).scalar_one()
        assert conversation.active_form == "repair_form"
        assert conversation.slots["unit"]["room"] == "1502"
    finally:
        await second.close()


async def test_language_follows_the_user_and_lang_switches(app: App) -> None:
    replies = await app.engine.handle(msg("hello, what time does the office open?"))
    assert any("office" in r.text.lower() or "Mon" in r.text for r in replies)
    replies = await app.engine.handle(msg("ok"))  # too little to switch back or forth
    replies = await app.engine.handle(msg("/lang zh-hans"))
    assert any("简体中文" in r.text for r in replies)
    replies = await app.engine.handle(msg("谢谢"))
    assert any("客气" in r.text for r in replies)


async def test_attachments_are_kept_on_the_ticket(app: App) -> None:
    photo = Attachment(kind="photo", path="/tmp/leak.jpg", file_id="F1")
    await app.engine.handle(msg("廚房水龍頭漏水"))
    await app.engine.handle(msg("", attachments=(photo,)))
    for text in ["3棟2單元1502室", "任何時間", "91234567"]:
        await app.engine.handle(msg(text))
    await app.engine.handle(msg("確認提交", payload="/affirm"))
    async with app.db.session() as s:
        ticket = (
            await s.execute(
                select(Ticket)
                .join(Conversation, Conversation.id == Ticket.conversation_id)
                .where(Conversation.chat_id == CHAT["id"])
            )
        ).scalar_one()
    assert ticket.details["attachments"][0]["file_id"] == "F1"


async def test_unsent_lists_the_outbox_and_unreachable_clears_it(
    app: App, clock: FrozenClock
) -> None:
    await app.engine.handle(msg("你好"))
    # The turn's channel holds its replies: not listed for anyone else until the claim expires.
    assert [p for p in await app.engine.unsent("test") if p.chat_id == CHAT["id"]] == []
    clock.advance(SEND_LEASE)
    pending = [p for p in await app.engine.unsent("test") if p.chat_id == CHAT["id"]]
    assert pending
    await app.engine.mark_unreachable("test", CHAT["id"])
    assert [p for p in await app.engine.unsent("test") if p.chat_id == CHAT["id"]] == []


async def test_the_bot_stays_quiet_while_a_person_owns_the_chat(app: App) -> None:
    from bot.store.models import Owner

    await app.engine.handle(msg("你好"))
    async with app.db.session() as s:
        conversation = (
            await s.execute(select(Conversation).where(Conversation.chat_id == CHAT["id"]))
        ).scalar_one()
    await app.engine.set_owner(conversation.id, Owner.AGENT, agent_id=7)
    photo = Attachment(kind="photo", path="/tmp/p.jpg", file_id="F9")
    assert await app.engine.handle(msg("", attachments=(photo,))) == []
    assert await app.engine.handle(msg("師傅幾時到")) == []
    assert await count(app, Message, Message.direction == "in") == 3


def test_the_executor_registers_exactly_the_domains_actions() -> None:
    """Actions are found in Kefu's action modules, not by a scan of every ``Action`` subclass
    the process imported: each one the domain names is registered, and nothing else is."""
    from bot.actions import build_executor
    from bot.dialogue.domain import load_domain

    domain = load_domain(ROOT / "dialogues")
    assert set(build_executor().actions) == set(domain.actions)
