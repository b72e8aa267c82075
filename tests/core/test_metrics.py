"""The store gauges of /metrics, read from the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from bot.clock import FrozenClock
from bot.followups.models import FollowupKind
from bot.followups.service import schedule
from bot.metrics import StoreProbe
from bot.store.db import Database
from bot.store.models import Contact, Conversation, Message


def _value(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


async def _conversation(db: Database, clock: FrozenClock) -> int:
    now = clock.now()
    async with db.write() as session:
        contact = Contact(created_at=now, updated_at=now)
        session.add(contact)
        await session.flush()
        conversation = Conversation(
            contact_id=contact.id, channel="telegram", chat_id="4201", created_at=now,
            updated_at=now,
        )  # fmt: skip
        session.add(conversation)
        await session.flush()
        return conversation.id


async def test_outbox_backlog_followup_lag_and_store_up(db: Database, clock: FrozenClock) -> None:
    probe = StoreProbe(db, clock)
    assert await probe.refresh()
    assert _value("kefu_store_up") == 1
    assert _value("kefu_outbox_backlog") == 0
    assert _value("kefu_followup_lag_seconds") == 0

    conversation_id = await _conversation(db, clock)
    now = clock.now()
    async with db.write() as session:
        session.add_all(
            [
                Message(conversation_id=conversation_id, direction="out", text="unsent",
                        created_at=now),
                Message(conversation_id=conversation_id, direction="out", text="sent",
                        created_at=now, sent_at=now),
                Message(conversation_id=conversation_id, direction="in", text="hi",
                        created_at=now),
            ]
        )  # fmt: skip
        for minutes, key in ((-10, "late"), (-3, "later"), (30, "not yet")):
            await schedule(
                session,
                kind=FollowupKind.SLA_WARNING,
                due_at=now + timedelta(minutes=minutes),
                idempotency_key=key,
                now=now,
            )
    assert await probe.refresh()
    assert _value("kefu_outbox_backlog") == 1
    assert _value("kefu_followup_lag_seconds") == 600  # the oldest due one waits 10 minutes
    clock.advance(timedelta(minutes=1))
    assert await probe.refresh()
    assert _value("kefu_followup_lag_seconds") == 660


async def test_a_store_that_does_not_answer_is_down(clock: FrozenClock) -> None:
    # Nothing listens on port 1: refused at once, as when PostgreSQL is down.
    db = Database("postgresql+psycopg://kefu@127.0.0.1:1/kefu")
    try:
        assert not await StoreProbe(db, clock, timeout=5).refresh()
        assert _value("kefu_store_up") == 0
    finally:
        await db.dispose()
