"""A web chat visitor reaches the agents' Telegram group like any customer: asking for a person
opens a topic with a card, an agent claims it, what the visitor writes is relayed into the
topic, and the agent's answer reaches the visitor's chat box over its stream (the web channel
delivers it from the outbox; the Telegram channel leaves it alone)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.channels.web.routes import chat_routes
from bot.store.models import Conversation, Owner
from bot.web.serve import ConsoleServer
from tests.agents.support import GROUP, Harness
from tests.fakes.bot_api import FakeBotAPI
from tests.web.chat_support import CodeRecorder, Served, texts
from tests.web.support import SECRET


@pytest.fixture
async def served(harness: Harness) -> AsyncIterator[Served]:
    settings = harness.settings
    local = settings.model_copy(update={"web": settings.web.model_copy(update={"port": 0})})
    codes = CodeRecorder()
    server = ConsoleServer(
        local, harness.app.db, harness.clock, secret=SECRET,
        extra_routes=chat_routes(harness.app, secret=SECRET, sender=codes),
    )  # fmt: skip
    await server.start()
    try:
        yield Served(harness.app, server, codes)
    finally:
        await server.stop()


async def test_a_web_visitor_is_served_by_an_agent_in_the_group(
    harness: Harness, served: Served, fake_api: FakeBotAPI
) -> None:
    alice = await harness.register(501, "Alice")
    visitor = served.visitor()
    await visitor.hello()
    await visitor.replies_to("/lang en")
    await visitor.replies_to("/agent")
    await harness.relay()
    [topic] = await harness.topics()
    assert topic.thread_id is not None
    [card] = harness.group_calls(topic.thread_id)
    await harness.feed(
        fake_api.callback_update(alice, chat_id=GROUP, message_id=card.result["message_id"],
                                 index=0)
    )  # fmt: skip
    async with harness.app.db.session() as session:
        web = await session.get_one(Conversation, topic.conversation_id)
    assert web.channel == "web" and web.owner == Owner.AGENT
    told = await visitor.read(lambda got: "Alice" in texts(got), after=visitor.seen[-1]["id"])
    assert told

    response = await visitor.say("The water is still dripping")
    assert response.status_code == 202
    harness.clock.advance(seconds=5)
    await harness.relay()
    posts = harness.group_calls(topic.thread_id)
    assert any("still dripping" in str(c.params.get("text")) for c in posts)

    await harness.feed(
        fake_api.group_update(alice, GROUP, "A plumber comes at 3pm", thread_id=topic.thread_id)
    )
    await harness.desk.pump_once()
    got = await visitor.read(lambda items: "plumber" in texts(items), after=visitor.seen[-1]["id"])
    [reply] = [m for m in got if "A plumber comes at 3pm" in m["text"]]
    assert reply["from"] == "agent"
    await visitor.close()
