"""Every send of a stored outbound row goes through one claim (issue 11 item 9): two senders
with their own connection pools (as two webhook workers have) race over the same rows, one
delivering an agent's replies as the relay does, the other sweeping the outbox. Each row
reaches the chat once; a claim whose sender died is taken over after its lease. Real SQLite
and PostgreSQL, the real PTB bot against the fake Bot API server."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels.telegram import TelegramBot
from bot.clock import FrozenClock
from bot.dialogue.claims import SEND_LEASE, Claims
from bot.messages import OutboundMessage
from bot.store.models import Contact, Conversation, Message
from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.support import tg_settings

# Customers' chat ids per test (one PostgreSQL database serves the whole module).
_CHAT_BASE = {"race": 20_000, "lease": 21_000, "claims": 22_000, "renew": 23_000}


class _NoTurns:
    """These senders run no turns: no NLU model needed."""

    def parse(self, text: str, *, now: datetime | None = None) -> dict[str, Any]:
        raise AssertionError("no turn expected")


@dataclass
class Sender:
    app: App
    bot: TelegramBot


@pytest.fixture
async def senders(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock
) -> AsyncIterator[list[Sender]]:
    """Two workers as `kefu run` builds them (webhook mode: chat locks across workers on
    PostgreSQL), each with its own engine and connection pool, on one database."""
    made: list[Sender] = []
    for n in range(2):
        settings = tg_settings(
            fake_api, tmp_path / f"w{n}", db_url, mode="webhook",
            webhook={"listen": "127.0.0.1", "port": 0, "path": "/hook"},
        )  # fmt: skip
        app = build_app(settings, clock=clock, interpreter=_NoTurns())
        bot = TelegramBot(settings, app.engine, token=fake_api.token, db=app.db)
        await bot.application.initialize()
        made.append(Sender(app, bot))
    yield made
    for sender in made:
        await sender.bot.channel.close()
        await sender.bot.application.shutdown()
        await sender.app.close()


async def _agent_replies(
    app: App, fake_api: FakeBotAPI, clock: FrozenClock, chats: int, each: int, tag: str
) -> list[OutboundMessage]:
    """Replies an agent wrote into ``chats`` customers' outboxes (as the agents' desk stores
    them), not sent yet."""
    outs: list[OutboundMessage] = []
    now = clock.now()
    for c in range(chats):
        user = fake_api.user(_CHAT_BASE[tag] + c)
        async with app.db.write() as session:
            contact = Contact(created_at=now, updated_at=now)
            session.add(contact)
            await session.flush()
            conversation = Conversation(
                contact_id=contact.id,
                channel="telegram",
                chat_id=str(user.id),
                slots={},
                state={},
                owner="agent",
                version=0,
                created_at=now,
                updated_at=now,
            )
            session.add(conversation)
            await session.flush()
            for i in range(each):
                outs += await app.engine.send_text(
                    conversation.id, f"{tag} chat {c} reply {i}", sender="agent:1", session=session
                )
    return outs


async def _unsent(app: App) -> int:
    async with app.db.session() as session:
        rows = await session.execute(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "out", Message.sent_at.is_(None))
        )
        return int(rows.scalar_one())


async def test_the_relay_and_another_workers_sweep_send_each_row_once(
    senders: list[Sender], fake_api: FakeBotAPI, clock: FrozenClock
) -> None:
    relay, sweeper = senders
    outs = await _agent_replies(relay.app, fake_api, clock, chats=8, each=5, tag="race")
    await asyncio.gather(
        relay.bot.channel.deliver(outs),
        sweeper.bot.channel.flush_outbox(skip_busy=True),
        sweeper.bot.channel.flush_outbox(skip_busy=True),
    )
    await sweeper.bot.channel.flush_outbox()  # whatever is left (none should be)
    sent = Counter(
        str(c.params.get("text")) for c in fake_api.sent() if "race chat" in str(c.params)
    )
    assert set(sent) == {out.text for out in outs}
    twice = {text: n for text, n in sent.items() if n > 1}
    assert not twice, f"sent more than once: {twice}"
    assert await _unsent(relay.app) == 0


async def test_a_claim_whose_sender_died_is_taken_over_after_the_lease(
    senders: list[Sender], fake_api: FakeBotAPI, clock: FrozenClock
) -> None:
    dead, alive = senders
    outs = await _agent_replies(dead.app, fake_api, clock, chats=2, each=2, tag="lease")
    token, held = await dead.app.engine.claim([o.id for o in outs if o.id is not None])
    assert held == {o.id for o in outs}
    # The holder dies before sending. While its lease runs, nobody else sends the rows...
    assert await alive.bot.channel.flush_outbox() == 0
    await alive.bot.channel.deliver(outs)  # ...not even when handed them directly
    assert not [c for c in fake_api.sent() if "lease chat" in str(c.params)]
    # ...and once it has run out, the next sweep sends each one, once.
    clock.advance(SEND_LEASE)
    assert await alive.bot.channel.flush_outbox() == len(outs)
    texts = [str(c.params.get("text")) for c in fake_api.sent() if "lease chat" in str(c.params)]
    assert sorted(texts) == sorted(o.text for o in outs)
    assert await dead.app.engine.renew(token, list(held)) == set()  # the dead claim is void
    assert await _unsent(alive.app) == 0


async def test_two_claimants_never_hold_the_same_row(
    senders: list[Sender], fake_api: FakeBotAPI, clock: FrozenClock
) -> None:
    first, second = senders
    outs = await _agent_replies(first.app, fake_api, clock, chats=4, each=25, tag="claims")
    ids = [o.id for o in outs if o.id is not None]
    results = await asyncio.gather(
        *(s.app.engine.claim(ids[i::3]) for s in (first, second) for i in range(3)),
        *(s.app.engine.claim(ids) for s in (first, second)),
    )
    held = [mine for _, mine in results]
    assert set().union(*held) == set(ids)
    assert sum(len(mine) for mine in held) == len(ids)  # no row twice


async def test_a_slow_sender_keeps_its_rows_by_renewing_and_loses_them_once_taken_over(
    senders: list[Sender], fake_api: FakeBotAPI, clock: FrozenClock
) -> None:
    first, second = senders
    outs = await _agent_replies(first.app, fake_api, clock, chats=1, each=2, tag="renew")
    ids = [o.id for o in outs if o.id is not None]
    # Renews at every row (a lease of 0 s is always half over).
    slow = Claims(first.app.engine, lease=timedelta(0))
    held = await slow.take(outs)
    assert [o.id for o in held] == ids
    clock.advance(SEND_LEASE * 0.75)
    assert await slow.still_ours(held[0])  # renewed: now + SEND_LEASE
    clock.advance(SEND_LEASE * 0.5)  # past the first lease, inside the renewed one
    assert (await second.app.engine.claim(ids))[1] == set()
    clock.advance(SEND_LEASE)  # the slow sender stalls past its renewed lease too
    assert (await second.app.engine.claim(ids))[1] == set(ids)  # taken over...
    assert not await slow.still_ours(held[1])  # ...so the slow one does not send it
    await slow.give_back()  # and cannot give back what is no longer its own
    assert (await first.app.engine.claim(ids))[1] == set()
