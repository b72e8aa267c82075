"""An outbound message whose Telegram id is already on an older row goes out once (issue 11
item 7: "the survey went out 5 times").

Telegram numbers messages per chat and per bot. An office that moves to a new bot keeps its
database, and the new bot's ids in a chat start again from 1: a reply can be given an id that
an older reply of the same conversation already holds. Recording it clashed with the unique
key; the clash was taken for an outage, the row stayed unsent and every outbox sweep sent it
again.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from bot.app import build_app
from bot.channels.telegram import TelegramBot
from bot.clock import FrozenClock
from bot.store.db import sync_url
from bot.store.models import Conversation
from bot.tickets import open_ticket
from bot.tickets.lifecycle import resolve_ticket
from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.support import StubEngine, tg_settings


async def test_a_survey_whose_message_id_is_taken_goes_out_once(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any
) -> None:
    app = build_app(tg_settings(fake_api, tmp_path, db_url), clock=clock, interpreter=interpreter)
    bot = TelegramBot(app.settings, app.engine, token=fake_api.token, db=app.db)
    await bot.start()
    sync = create_engine(sync_url(db_url))
    try:
        user = fake_api.user(5301, "黃小姐", language_code="zh-hk")
        (hello,) = fake_api.queue(fake_api.text_update(user, "你好"))
        await fake_api.until(lambda: hello not in fake_api.pending_update_ids(), 20)
        (greeting,) = fake_api.sent(user.id)
        taken = int(greeting.result["message_id"])
        async with app.db.write() as session:
            conversation = (
                await session.execute(select(Conversation).where(Conversation.chat_id == "5301"))
            ).scalar_one()
            ticket = await open_ticket(
                session,
                kind="repair",
                now=clock.now(),
                actor="test",
                description="浴室漏水",
                category="water_leak",
                contact_id=conversation.contact_id,
                conversation_id=conversation.id,
                language="zh-Hant",
            )
            await resolve_ticket(
                session, ticket, settings=app.settings, now=clock.now(), actor="staff"
            )
        # The chat moves to a new bot: Telegram's message ids in it start again, and the next
        # one is the id the greeting already holds.
        fake_api._message_ids[user.id] = itertools.count(taken)
        bot.run_background(app.followup_worker(), timedelta(milliseconds=50))
        clock.advance(app.settings.sla.survey_delay)
        unsent = text(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE c.chat_id = '5301' AND m.direction = 'out' AND m.sent_at IS NULL"
        )
        survey_rows = text(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE c.chat_id = '5301' AND m.direction = 'out'"
        )

        def settled() -> bool:
            with sync.connect() as conn:
                stored = conn.execute(survey_rows).scalar_one()
                return stored >= 2 and conn.execute(unsent).scalar_one() == 0

        # Recorded as sent (or, before the fix, sent again by the sweep every 50 ms).
        await fake_api.until(lambda: len(fake_api.sent(user.id)) > 2 or settled(), 20)
        surveys = fake_api.texts(user.id)[1:]
        assert len(surveys) == 1 and ticket.number in surveys[0], surveys
        assert settled()
        # The chat goes on (many sweeps meanwhile): the survey is never sent again.
        (again,) = fake_api.queue(fake_api.text_update(user, "你好"))
        await fake_api.until(lambda: again not in fake_api.pending_update_ids(), 20)
        texts = fake_api.texts(user.id)
        assert sum(ticket.number in t for t in texts) == 1, texts
        assert settled()
    finally:
        sync.dispose()
        await bot.stop()
        await app.close()


class _RefusingEngine(StubEngine):
    """Delivers as the engine does, but the store refuses every confirmation for good."""

    async def mark_sent(self, outbound_id: int, channel_message_id: str | None = None) -> None:
        raise ValueError("value too long for type character varying(128)")


async def test_a_reply_the_store_refuses_to_confirm_is_not_sent_again(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    engine = _RefusingEngine()
    async with TelegramBot(tg_settings(fake_api, tmp_path), engine, token=fake_api.token) as bot:
        user = fake_api.user(5401, language_code="en")
        (update_id,) = fake_api.queue(fake_api.text_update(user, "hi"))
        await fake_api.until(lambda: update_id not in fake_api.pending_update_ids(), 20)
        for _ in range(3):  # the sweeps find the row still unconfirmed in the store
            assert await bot.channel.flush_outbox() == 1
    assert fake_api.texts(user.id) == ["echo: hi"]
