"""Human takeover end to end: the real engine, store and Telegram channel, the agents' desk,
and the fake Bot API server with a forum supergroup (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.agents.models import TopicState
from bot.store.db import Database
from bot.store.models import ConversationEvent, Owner
from tests.agents.support import GROUP, Harness, agent_settings
from tests.fakes.bot_api import FakeBotAPI


def _photo_in_topic(harness: Harness, user: Any, thread_id: int, caption: str) -> dict[str, Any]:
    api = harness.api
    big = api.add_file(b"\xff\xd8\xff\xe0agent-photo", kind="photos", ext=".jpg")
    photo = [
        {
            "file_id": big.file_id,
            "file_unique_id": big.file_unique_id,
            "width": 800,
            "height": 600,
            "file_size": big.size,
        }
    ]
    message = api._user_message(user, GROUP, thread_id, photo=photo, caption=caption)
    return {"update_id": api.next_update_id(), "message": message}


async def test_escalate_claim_relay_both_ways_note_release(harness: Harness) -> None:
    api = harness.api
    alice = await harness.register(7001, "Alice")
    customer = api.user(501, "Chan Tai Man", language_code="en")

    # The customer asks for a person: queued, a topic with a card is opened.
    await harness.say(customer, "/agent")
    conversation = await harness.conversation(customer.id)
    assert conversation.owner == Owner.QUEUE
    await harness.relay()
    created = api.calls_to("createForumTopic")
    assert len(created) == 1 and "Chan Tai Man" in created[0].params["name"]
    [topic] = await harness.topics()
    thread = topic.thread_id
    assert thread is not None and topic.state == TopicState.QUEUED
    [card] = harness.group_calls(thread)
    buttons = [b for row in card.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"].split(":")[2] for b in buttons] == ["claim", "resolve", "release"]
    assert "Chan Tai Man" in card.params["text"]

    # Alice claims it: the conversation is hers, the customer is told, the card changes.
    await harness.feed(
        api.callback_update(alice, chat_id=GROUP, message_id=card.result["message_id"], index=0)
    )
    conversation = await harness.conversation(customer.id)
    [topic] = await harness.topics()
    assert topic.state == TopicState.CLAIMED and topic.agent_id is not None
    assert (conversation.owner, conversation.agent_id) == (Owner.AGENT, topic.agent_id)
    assert any("Alice" in t for t in harness.to_customer(customer))
    edited = api.messages[(GROUP, card.result["message_id"])]
    assert "claim" not in str(edited.get("reply_markup"))

    # Customer -> topic: text (coalesced after the window) and a photo (copied).
    before = len(harness.to_customer(customer))
    await harness.say(customer, "the water is still dripping")
    assert len(harness.to_customer(customer)) == before  # the bot stays quiet
    await harness.feed(api.photo_update(customer, caption="see this"))
    harness.clock.advance(seconds=5)
    await harness.relay()
    posts = harness.group_calls(thread)
    assert any("the water is still dripping" in str(c.params.get("text")) for c in posts)
    copies = api.calls_to("copyMessage", chat_id=GROUP)
    assert len(copies) == 1 and copies[0].params["from_chat_id"] == customer.id
    assert int(copies[0].params["message_thread_id"]) == thread
    # An album is one turn, but each of its photos is copied into the topic.
    album = [api.photo_update(customer, b"ALBUM%d" % n, media_group_id="alb") for n in range(2)]
    await asyncio.gather(*(harness.feed(part) for part in album))
    harness.clock.advance(seconds=5)
    await harness.relay()
    copies = api.calls_to("copyMessage", chat_id=GROUP)
    assert [int(c.params["message_id"]) for c in copies[1:]] == [
        part["message"]["message_id"] for part in album
    ]

    # Topic -> customer: Alice's text and photo, under her name.
    await harness.feed(api.group_update(alice, GROUP, "A plumber comes at 3pm", thread_id=thread))
    assert harness.to_customer(customer)[-1] == "Alice: A plumber comes at 3pm"
    await harness.feed(_photo_in_topic(harness, alice, thread, "the valve"))
    photos = api.calls_to("sendPhoto", chat_id=customer.id)
    assert len(photos) == 1

    # A note stays internal.
    sent_before = len(api.sent(customer.id))
    await harness.feed(api.group_update(alice, GROUP, "/note customer is upset", thread_id=thread))
    assert len(api.sent(customer.id)) == sent_before
    async with harness.app.db.session() as session:
        notes = (
            (
                await session.execute(
                    select(ConversationEvent).where(ConversationEvent.event == "agent_note")
                )
            )
            .scalars()
            .all()
        )
    assert [n.data["text"] for n in notes] == ["customer is upset"]

    # Release: back to the bot with an internal note; the bot answers again.
    await harness.feed(
        api.group_update(alice, GROUP, "/release plumber booked for 3pm", thread_id=thread)
    )
    conversation = await harness.conversation(customer.id)
    assert conversation.owner == Owner.BOT and conversation.agent_id is None
    assert "plumber booked for 3pm" not in "\n".join(harness.to_customer(customer))
    assert "Alice" in harness.to_customer(customer)[-1]  # the standard hand-back text
    [topic] = await harness.topics()
    assert topic.state == TopicState.RELEASED
    relayed_before = len(harness.group_calls(thread))
    await harness.say(customer, "/help")
    assert len(api.sent(customer.id)) > sent_before + 1  # the bot's own answer
    harness.clock.advance(seconds=5)
    await harness.relay()
    assert len(harness.group_calls(thread)) == relayed_before  # no longer relayed

    # Every ownership change is in the engine's audit trail.
    async with harness.app.db.session() as session:
        owners = (
            (
                await session.execute(
                    select(ConversationEvent.data)
                    .where(ConversationEvent.event == "owner")
                    .order_by(ConversationEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert [o["owner"] for o in owners] == ["agent", "bot"]


async def test_kefu_run_wires_the_agents_group(
    fake_api: FakeBotAPI, tmp_path: Path, sqlite_url: str
) -> None:
    """``serve_telegram`` (what ``kefu run`` runs) with an agents' group: real polling, the
    relay and the customer pump as background tasks, the system clock."""
    from bot.agents.registry import add_agent
    from bot.clock import SystemClock
    from bot.run import serve_telegram

    url = sqlite_url  # a migrated copy of the run's template
    settings = agent_settings(fake_api, tmp_path, url, relay_poll="0.1s", coalesce_window="0s")
    settings.telegram.poll_timeout = 1
    db = Database(url)
    await add_agent(db, 7001, name="Alice", role="agent", now=SystemClock().now())
    await db.dispose()
    alice = fake_api.user(7001, "Alice", username="alice")
    customer = fake_api.user(520, "Mak", language_code="en")
    stop = asyncio.Event()
    task = asyncio.create_task(serve_telegram(settings, token=fake_api.token, stop=stop))
    try:
        fake_api.queue(fake_api.text_update(customer, "/agent"))
        await fake_api.until(lambda: bool(fake_api.sent(GROUP)), timeout=30)
        card = fake_api.last_bot_message(GROUP, with_keyboard=True)
        thread = card["message_thread_id"]
        fake_api.queue(
            fake_api.callback_update(alice, chat_id=GROUP, message_id=card["message_id"])
        )
        await fake_api.until(lambda: any("Alice" in t for t in fake_api.texts(customer.id)), 30)
        fake_api.queue(fake_api.text_update(customer, "my door lock is broken"))
        await fake_api.until(
            lambda: any("door lock" in str(c.params.get("text")) for c in fake_api.sent(GROUP)), 30
        )
        fake_api.queue(fake_api.group_update(alice, GROUP, "On my way", thread_id=thread))
        await fake_api.until(lambda: "Alice: On my way" in fake_api.texts(customer.id), 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_documents_are_relayed_both_ways(harness: Harness) -> None:
    api = harness.api
    alice = await harness.register(7001, "Alice")
    customer = api.user(521, "Poon", language_code="en")
    await harness.say(customer, "/agent")
    await harness.relay()
    [topic] = await harness.topics()
    assert topic.thread_id is not None
    await harness.feed(api.group_update(alice, GROUP, "/claim", thread_id=topic.thread_id))
    await harness.feed(api.document_update(customer, caption="my receipt"))
    harness.clock.advance(seconds=5)
    await harness.relay()
    [copy] = api.calls_to("copyMessage", chat_id=GROUP)
    assert "my receipt" in copy.params["caption"] and "Poon" in copy.params["caption"]

    file = api.add_file(b"%PDF-1.4 invoice", kind="documents", ext=".pdf")
    document = {"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                "file_name": "invoice.pdf", "mime_type": "application/pdf",
                "file_size": file.size}  # fmt: skip
    message = api._user_message(alice, GROUP, topic.thread_id, document=document)
    await harness.feed({"update_id": api.next_update_id(), "message": message})
    [back] = api.calls_to("copyMessage", chat_id=customer.id)
    assert back.params["from_chat_id"] == GROUP
    assert harness.to_customer(customer)[-2] == "Alice sent:"  # then the document itself
