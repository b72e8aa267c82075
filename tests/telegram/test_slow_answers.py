"""A slow Bot API answer never makes a duplicate (issue 11 item 10): a send answered after the
read timeout most likely arrived, so it is recorded as sent, not repeated. The real engine,
store and PTB Application against the fake Bot API server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram.error import NetworkError, TimedOut

from bot.app import App, build_app
from bot.channels.telegram import TelegramBot
from bot.channels.telegram.ratelimit import KefuRateLimiter
from bot.channels.telegram.request import AiohttpRequest, Unconfirmed
from bot.clock import FrozenClock
from bot.store.models import Message
from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.support import tg_settings


@dataclass
class Kefu:
    app: App
    bot: TelegramBot


@pytest.fixture
async def slow_kefu(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[Kefu]:
    """Kefu polling the fake server, waiting 0.3 s for an answer to each request."""
    settings = tg_settings(fake_api, tmp_path, db_url, read_timeout=0.3)
    app = build_app(settings, clock=clock, interpreter=interpreter)
    bot = TelegramBot(settings, app.engine, token=fake_api.token, db=app.db)
    await bot.start()
    yield Kefu(app, bot)
    await bot.stop()
    await app.close()


def _carried_out(api: FakeBotAPI, chat_id: int) -> list[dict[str, Any]]:
    """Messages the fake server put into the chat (at once, even when it answers late)."""
    with api._lock:
        return [
            m
            for (chat, _), m in api.messages.items()
            if chat == chat_id and m.get("from", {}).get("id") == api.bot_user.id
        ]


async def test_a_reply_answered_after_the_read_timeout_reaches_the_user_once(
    slow_kefu: Kefu, fake_api: FakeBotAPI
) -> None:
    user = fake_api.user(4101, language_code="en")
    fake_api.fail("sendMessage", "delay", delay=1.0, chat_id=user.id)
    (update_id,) = fake_api.queue(fake_api.text_update(user, "hello"))
    await fake_api.until(lambda: update_id not in fake_api.pending_update_ids(), 20)
    # The turn is over (the update is acknowledged): what reached the chat is final.
    assert len(_carried_out(fake_api, user.id)) == 1
    await fake_api.until(lambda: bool(fake_api.calls_to("sendMessage", chat_id=user.id)), 10)
    assert len(fake_api.calls_to("sendMessage", chat_id=user.id)) == 1
    limiter = slow_kefu.bot.application.bot.rate_limiter
    assert isinstance(limiter, KefuRateLimiter) and limiter.unconfirmed["sendMessage"] == 1
    # Recorded as sent: neither the outbox sweep nor a restart sends it again.
    assert await slow_kefu.bot.channel.flush_outbox() == 0
    async with slow_kefu.app.db.session() as session:
        unsent = await session.execute(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "out", Message.sent_at.is_(None))
        )
        assert unsent.scalar_one() == 0


async def test_what_surely_did_not_reach_telegram_is_still_retried(
    slow_kefu: Kefu, fake_api: FakeBotAPI
) -> None:
    """A 5xx answer or a dropped connection before any answer: retried, one message."""
    user = fake_api.user(4102, language_code="en")
    fake_api.fail("sendMessage", 502, chat_id=user.id)
    (update_id,) = fake_api.queue(fake_api.text_update(user, "hello"))
    await fake_api.until(lambda: update_id not in fake_api.pending_update_ids(), 20)
    statuses = [c.status for c in fake_api.calls_to("sendMessage", chat_id=user.id)]
    assert statuses == [502, 200]
    assert len(_carried_out(fake_api, user.id)) == 1


async def test_the_transport_tells_a_lost_answer_from_no_connection(
    fake_api: FakeBotAPI,
) -> None:
    request = AiohttpRequest(1, read_timeout=0.2, connect_timeout=2)
    await request.initialize()
    try:
        fake_api.fail("getMe", "delay", delay=1.0)
        with pytest.raises(Unconfirmed) as lost:
            await request.post(fake_api.method_url("getMe"))
        assert isinstance(lost.value, TimedOut)  # still PTB's TimedOut for PTB's callers
        fake_api.fail("getMe", "drop")
        with pytest.raises(Unconfirmed):
            await request.post(fake_api.method_url("getMe"))
        with pytest.raises(NetworkError) as refused:
            await request.post("http://127.0.0.1:9/botTOKEN/getMe")
        assert not isinstance(refused.value, Unconfirmed)
    finally:
        await request.shutdown()
