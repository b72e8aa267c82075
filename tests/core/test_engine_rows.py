"""The rows one turn writes (the hot path uses Core statements, not the ORM unit of work)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.messages import InboundMessage
from bot.store.models import Contact, Conversation, ConversationEvent, InboundReceipt, Message

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock, interpreter: Any) -> App:
    application = build_app(settings, clock=clock, interpreter=interpreter)
    yield application
    await application.close()


async def test_a_turn_stores_its_rows_in_order_and_leaves_the_session_clean(
    app: App, clock: FrozenClock
) -> None:
    user = uuid.uuid4().hex[:12]
    states: list[Any] = []
    # Observers run inside the turn's transaction after everything is written: nothing may be
    # left for the ORM to flush (it would write the conversation a second time).
    app.engine.observers.append(lambda turn: states.append(set(turn.session.dirty)))

    async def say(text: str, delivery: str) -> list[Any]:
        clock.advance(minutes=1)
        out = await app.engine.handle(
            InboundMessage(
                channel="rows", user_id=user, chat_id=user, text=text, delivery_id=delivery
            )
        )
        await app.engine.mark_sent_many([(o.id, f"c-{o.id}") for o in out])
        return out

    first = await say("你好", f"{user}-1")
    second = await say("thanks", f"{user}-2")
    assert first and second and states == [set(), set()]

    async with app.db.session() as s:
        conversation = (
            await s.execute(select(Conversation).where(Conversation.chat_id == user))
        ).scalar_one()
        contact = await s.get_one(Contact, conversation.contact_id)
        messages = list(
            (
                await s.execute(
                    select(Message)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.id)
                )
            ).scalars()
        )
        events = list(
            (
                await s.execute(
                    select(ConversationEvent)
                    .where(ConversationEvent.conversation_id == conversation.id)
                    .order_by(ConversationEvent.id)
                )
            ).scalars()
        )
        receipts = list(
            (
                await s.execute(
                    select(InboundReceipt).where(InboundReceipt.delivery_id.like(f"{user}-%"))
                )
            ).scalars()
        )

    assert conversation.version == 2 and conversation.updated_at == clock.now()
    assert conversation.language == "en" and contact.language == "en"
    assert [(m.direction, m.intent) for m in messages] == [
        ("in", "greet"),
        ("out", None),
        ("in", "thanks"),
        ("out", None),
    ]
    assert messages[1].reply_to_id == messages[0].id and messages[3].reply_to_id == messages[2].id
    assert [m.id for m in messages if m.direction == "out"] == [first[0].id, second[0].id]
    assert all(m.sent_at is not None for m in messages)
    assert messages[1].channel_message_id == f"c-{first[0].id}"
    assert sorted((r.delivery_id, r.message_id) for r in receipts) == [
        (f"{user}-1", messages[0].id),
        (f"{user}-2", messages[2].id),
    ]
    # Each turn's events in the order they happened, the whole event kept as data.
    kinds = [e.event for e in events]
    assert kinds[0] == "user" and kinds.count("user") == 2
    assert kinds.index("bot") > 0 and kinds[-1] == "bot"
    assert events[0].data["text"] == "你好" and events[0].data["parse_data"]["intent"]
    assert all(e.data["event"] == e.event for e in events)


async def test_a_known_users_turn_takes_few_statements(app: App, clock: FrozenClock) -> None:
    """PostgreSQL: load (locked) and store the inbound message with its receipt, then write
    the rest at once. SQLite has no data-modifying CTEs: one statement per row kind."""
    from sqlalchemy import event

    user = uuid.uuid4().hex[:12]
    await app.engine.handle(
        InboundMessage(channel="rows", user_id=user, chat_id=user, text="你好", delivery_id=user)
    )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0])

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        clock.advance(minutes=1)
        out = await app.engine.handle(
            InboundMessage(
                channel="rows", user_id=user, chat_id=user, text="多謝晒", delivery_id=f"{user}-2"
            )
        )
    finally:
        event.remove(app.db.engine.sync_engine, "before_cursor_execute", count)
    expected = ["SELECT", "INSERT", "INSERT", "UPDATE", "UPDATE", "INSERT", "INSERT"]
    if not app.db.is_sqlite:
        expected = ["WITH", "WITH"]
    assert len(out) == 1
    assert statements == expected
    async with app.db.session() as s:
        conversation = (
            await s.execute(select(Conversation).where(Conversation.chat_id == user))
        ).scalar_one()
        last_in = (
            await s.execute(
                select(Message)
                .where(Message.conversation_id == conversation.id, Message.direction == "in")
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).scalar_one()
    assert conversation.version == 2 and conversation.updated_at == clock.now()
    assert last_in.intent == "thanks"  # same language: the contact row is not touched
