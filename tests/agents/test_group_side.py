"""The agents' group: locked claims, strangers ignored, deleted topics recreated, the group
limit under a burst, claim reminders, resolve/close, leaving the queue, out-of-hours notice."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.agents.models import Agent, GroupPost, TopicState
from bot.agents.service import Takeover
from bot.clock import FrozenClock
from bot.followups import FollowupWorker
from bot.followups.deadlines import apply_deadlines
from bot.followups.sla import SlaAlertHandler
from bot.store.db import Database
from bot.store.models import ConversationEvent, Owner, Ticket, TicketEvent, TicketStatus
from bot.tickets import open_ticket
from tests.agents.support import GROUP, Harness, agent_settings
from tests.fakes.bot_api import FakeBotAPI, FakeUser
from tests.pg_databases import TemplateDatabases


async def _escalated(harness: Harness, user_id: int, name: str) -> tuple[FakeUser, int]:
    """A customer who asked for a person; returns them and their topic's id."""
    customer = harness.api.user(user_id, name, language_code="en")
    await harness.say(customer, "/agent")
    await harness.relay()
    topics = await harness.topics()
    return customer, topics[-1].id


async def _with_ticket(harness: Harness, customer: FakeUser, **fields: Any) -> Ticket:
    """Open a ticket in the customer's conversation (as a form would have)."""
    await harness.say(customer, "/help")
    conversation = await harness.conversation(customer.id)
    now = harness.clock.now()
    async with harness.app.db.write() as session:
        ticket = await open_ticket(
            session,
            now=now,
            actor="user",
            contact_id=conversation.contact_id,
            conversation_id=conversation.id,
            **fields,
        )
        await apply_deadlines(session, ticket, harness.settings, now)
    return ticket


async def _card_id(harness: Harness, topic_id: int) -> int:
    [topic] = [t for t in await harness.topics() if t.id == topic_id]
    assert topic.card_message_id is not None
    return topic.card_message_id


async def test_two_agents_claim_at_once_one_wins(harness: Harness, db_url: str) -> None:
    api = harness.api
    alice = await harness.register(7001, "Alice")
    bob = await harness.register(7002, "Bob")
    customer = api.user(502, "Wong", language_code="en")
    ticket = await _with_ticket(
        harness,
        customer,
        kind="complaint",
        category="noise",
        description="Loud renovation at night",
    )
    await harness.say(customer, "/agent")
    await harness.relay()
    [topic] = await harness.topics()
    assert topic.ticket_id == ticket.id and ticket.number in topic.name

    # Two presses on the card, processed concurrently by the channel.
    card = await _card_id(harness, topic.id)
    presses = [
        api.callback_update(a, chat_id=GROUP, message_id=card, index=0) for a in (alice, bob)
    ]
    await asyncio.gather(*(harness.feed(p) for p in presses))
    [topic] = await harness.topics()
    assert topic.state == TopicState.CLAIMED
    async with harness.app.db.session() as session:
        winner = await session.get(Agent, topic.agent_id)
    assert winner is not None and winner.name in ("Alice", "Bob")
    answers = [c.params.get("text") for c in api.calls_to("answerCallbackQuery")]
    assert len(answers) == 2
    assert any(a and f"{winner.name} 已經認領" in a for a in answers)
    conversation = await harness.conversation(customer.id)
    assert (conversation.owner, conversation.agent_id) == (Owner.AGENT, winner.id)
    claimed_msgs = [t for t in harness.to_customer(customer) if "from our team" in t]
    assert len(claimed_msgs) == 1

    # The same race between two processes (separate connection pools) on the service.
    _other, topic_id = await _escalated(harness, 503, "Lee")
    second_db = Database(db_url)
    try:
        rival = Takeover(harness.settings, second_db, harness.app.engine, harness.clock)
        async with harness.app.db.session() as session:
            a = (await session.execute(select(Agent).where(Agent.name == "Alice"))).scalar_one()
            b = (await session.execute(select(Agent).where(Agent.name == "Bob"))).scalar_one()
        results = await asyncio.gather(
            harness.desk.takeover.claim(topic_id, a), rival.claim(topic_id, b)
        )
    finally:
        await second_db.dispose()
    assert sorted(r.ok for r in results) == [False, True]
    loser = next(r for r in results if not r.ok)
    assert loser.reason == "taken" and loser.holder is not None

    async with harness.app.db.session() as session:
        actions = (
            (
                await session.execute(
                    select(TicketEvent.action)
                    .where(TicketEvent.ticket_id == ticket.id)
                    .order_by(TicketEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert actions.count("claimed") == 1 and "escalated" in actions


async def test_non_agents_are_ignored_and_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    api = harness.api
    customer, topic_id = await _escalated(harness, 504, "Ho")
    [topic] = await harness.topics()
    stranger = api.user(9999, "Mallory")
    caplog.set_level(logging.INFO, logger="bot.agents")
    before = len(api.sent(customer.id))
    await harness.feed(
        api.group_update(stranger, GROUP, "hi, I'm not staff", thread_id=topic.thread_id)
    )
    await harness.feed(api.group_update(stranger, GROUP, "/resolve", thread_id=topic.thread_id))
    card = await _card_id(harness, topic_id)
    await harness.feed(api.callback_update(stranger, chat_id=GROUP, message_id=card, index=0))
    await harness.relay()
    assert len(api.sent(customer.id)) == before
    [topic] = await harness.topics()
    assert topic.state == TopicState.QUEUED and topic.agent_id is None
    [answer] = api.calls_to("answerCallbackQuery")
    assert not answer.params.get("text")
    ignored = [r for r in caplog.records if "non-agent" in r.getMessage()]
    assert len(ignored) == 3
    assert len(harness.group_calls(topic.thread_id)) == 1  # the card only: no answers to strangers


async def test_deleted_topic_is_recreated_and_mapping_updated(harness: Harness) -> None:
    api = harness.api
    customer, _topic_id = await _escalated(harness, 505, "Cheung")
    [topic] = await harness.topics()
    old_thread = topic.thread_id
    assert old_thread is not None
    api.delete_topic(GROUP, old_thread)  # someone deleted it in the Telegram app

    await harness.say(customer, "are you there?")
    harness.clock.advance(seconds=5)
    await harness.relay()
    [topic] = await harness.topics()
    assert topic.thread_id not in (None, old_thread)
    assert topic.data["recreated"] == 1 and topic.data["old_threads"] == [old_thread]
    assert len(api.calls_to("createForumTopic")) == 2
    posts = harness.group_calls(topic.thread_id)
    assert "reply_markup" in posts[0].params  # the card again, first
    assert "are you there?" in posts[1].params["text"]
    failed = [c for c in api.calls_to("sendMessage", chat_id=GROUP) if not c.ok]
    assert failed and "thread not found" in str(failed[0].error)


async def test_burst_of_100_customer_messages_within_group_limit(harness: Harness) -> None:
    """100 messages from 4 escalated customers in 50 s: all reach the group, in order per
    customer, never more than 20 posts in any 60 s, late posts say they are late."""
    customers = [(await _escalated(harness, 600 + i, f"Customer {i}"))[0] for i in range(4)]
    sent_texts: dict[int, list[str]] = {c.id: [] for c in customers}
    for n in range(100):
        customer = customers[n % 4]
        text = f"message {n:03d} from {customer.first_name}"
        sent_texts[customer.id].append(text)
        await harness.feed(harness.api.text_update(customer, text))
        harness.clock.advance(seconds=0.5)
        await harness.relay()  # the relay keeps running while the burst arrives
    for _ in range(600):
        pending = [p for p in await harness.posts() if p.sent_at is None]
        if not pending:
            break
        harness.clock.advance(seconds=1)
        await harness.relay()
    posts = await harness.posts()
    assert all(p.sent_at is not None and p.last_error is None for p in posts)

    # Never more than 20 posts in any 60 s (by the injected clock).
    stamps = sorted(
        {p.post_id: p.sent_at for p in posts if p.post_id is not None and p.sent_at}.values()
    )
    for i, start in enumerate(stamps):
        in_window = [s for s in stamps[i:] if s < start + timedelta(seconds=60)]
        assert len(in_window) <= 20, f"{len(in_window)} posts in the minute from {start}"
    relayed = [p for p in posts if p.kind == "relay_text"]
    assert len(relayed) == 100
    assert len({p.post_id for p in relayed}) < 100  # coalesced

    # Every message in the group exactly once, in order per customer.
    topics = {t.conversation_id: t for t in await harness.topics()}
    for customer in customers:
        conversation = await harness.conversation(customer.id)
        thread = topics[conversation.id].thread_id
        body = "\n".join(str(c.params.get("text")) for c in harness.group_calls(thread))
        positions = [body.find(t) for t in sent_texts[customer.id]]
        assert all(p >= 0 for p in positions), "a message was dropped"
        assert positions == sorted(positions)
        assert all(body.count(t) == 1 for t in sent_texts[customer.id])
    late = [c for c in harness.group_calls() if "延遲" in str(c.params.get("text"))]
    assert late, "late posts must say they are late"


async def test_unclaimed_reminder_then_supervisors(harness: Harness) -> None:
    await harness.register(7001, "Alice")
    await harness.register(7009, "Carol", role="supervisor")
    _customer, _topic_id = await _escalated(harness, 506, "Yip")
    worker = FollowupWorker(
        harness.app.db, harness.settings, harness.clock, harness.desk.followup_handlers()
    )
    [topic] = await harness.topics()
    assert await worker.run_until_idle() == 0
    harness.clock.advance(minutes=16)
    assert await worker.run_until_idle() == 1
    await harness.relay()
    texts = [str(c.params.get("text")) for c in harness.group_calls(topic.thread_id)]
    assert "仍未有人認領" in texts[-1] and "Carol" not in texts[-1]
    harness.clock.advance(minutes=15)
    assert await worker.run_until_idle() == 1
    await harness.relay()
    last = harness.group_calls(topic.thread_id)[-1]
    assert "Carol" in last.params["text"] and "請安排跟進" in last.params["text"]
    [mention] = last.params["entities"]
    assert mention["type"] == "text_mention" and mention["user"]["id"] == 7009


async def test_reminder_skipped_once_claimed(harness: Harness) -> None:
    alice = await harness.register(7001, "Alice")
    _customer, topic_id = await _escalated(harness, 507, "Ng")
    card = await _card_id(harness, topic_id)
    await harness.feed(harness.api.callback_update(alice, chat_id=GROUP, message_id=card, index=0))
    [topic] = await harness.topics()
    # Alice answers, so the claim is not taken back for silence (agents.claim_idle_timeout).
    await harness.feed(harness.api.group_update(alice, GROUP, "Hello", thread_id=topic.thread_id))
    worker = FollowupWorker(
        harness.app.db, harness.settings, harness.clock, harness.desk.followup_handlers()
    )
    harness.clock.advance(hours=1)
    assert await worker.run_until_idle() == 3  # reminder, supervisors, idle check: all no-ops
    await harness.relay()
    [topic] = await harness.topics()
    assert len(harness.group_calls(topic.thread_id)) == 1  # still only the card


async def test_resolve_closes_topic_resolves_ticket_and_reopen_reopens(harness: Harness) -> None:
    api = harness.api
    alice = await harness.register(7001, "Alice")
    customer = api.user(508, "Lam", language_code="en")
    ticket = await _with_ticket(
        harness,
        customer,
        kind="repair",
        category="water_leak",
        description="Leak under the sink",
        unit="1503",
    )
    await harness.say(customer, "/agent")
    await harness.relay()
    [topic] = await harness.topics()
    assert "1503" in topic.name
    await harness.feed(api.group_update(alice, GROUP, "/claim", thread_id=topic.thread_id))
    await harness.feed(api.group_update(alice, GROUP, "Fixed the valve", thread_id=topic.thread_id))
    await harness.feed(
        api.group_update(alice, GROUP, "/resolve valve replaced", thread_id=topic.thread_id)
    )
    async with harness.app.db.session() as session:
        fresh = await session.get(Ticket, ticket.id)
    assert fresh is not None and fresh.status == TicketStatus.RESOLVED
    assert fresh.first_response_at is not None
    assert "valve replaced" not in "\n".join(harness.to_customer(customer))  # internal
    assert (await harness.conversation(customer.id)).owner == Owner.BOT
    assert topic.thread_id is not None
    forum = api.topics[(GROUP, topic.thread_id)]
    assert forum.closed and forum.name.startswith("✅")

    # A reopened ticket reopens its topic (named again) with a new card.
    async with harness.app.db.write() as session:
        fresh = await session.get(Ticket, ticket.id)
        assert fresh is not None
        await harness.desk.takeover.ticket_reopened(session, fresh, harness.clock.now())
    await harness.relay()
    assert not forum.closed and not forum.name.startswith("✅")
    [topic] = await harness.topics()
    assert topic.state == TopicState.QUEUED


async def test_customer_leaving_the_queue_closes_the_escalation(harness: Harness) -> None:
    customer, _topic_id = await _escalated(harness, 509, "Tse")
    await harness.say(customer, "/cancel")
    assert (await harness.conversation(customer.id)).owner == Owner.BOT
    [topic] = await harness.topics()
    assert topic.state == TopicState.CANCELLED
    await harness.relay()
    assert "取消" in str(harness.group_calls(topic.thread_id)[-1].params["text"])


async def test_sla_breach_alert_posts_to_the_tickets_topic(harness: Harness) -> None:
    await harness.register(7009, "Carol", role="supervisor")
    customer = harness.api.user(510, "Fung", language_code="en")
    ticket = await _with_ticket(
        harness, customer, kind="complaint", category="noise", description="Dogs barking"
    )
    handlers = {
        k: SlaAlertHandler(harness.desk.alerts(), harness.clock)
        for k in ("sla_breach", "sla_warning", "emergency_alert")
    }
    worker = FollowupWorker(harness.app.db, harness.settings, harness.clock, handlers)
    harness.clock.advance(hours=73)
    await worker.run_until_idle()
    await harness.relay()
    [topic] = await harness.topics()
    assert topic.ticket_id == ticket.id and topic.state == TopicState.QUEUED
    texts = [str(c.params.get("text")) for c in harness.group_calls(topic.thread_id)]
    assert any("已逾期：首次回覆" in t and "Carol" in t for t in texts)  # office language
    general = [c for c in harness.group_calls() if not c.params.get("message_thread_id")]
    # 75 % warnings go to the General topic (the order of rows due at once may vary).
    warnings = [str(c.params["text"]) for c in general]
    assert warnings and all(w.startswith("⚠️") and ticket.number in w for w in warnings)
    assert not any("Carol" in w for w in warnings)
    assert (await harness.conversation(customer.id)).owner == Owner.BOT  # not taken over


async def test_out_of_hours_customer_is_told_when_agents_are_back(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, interpreter: Any
) -> None:
    saturday_night = FrozenClock(datetime(2026, 11, 28, 20, 0, tzinfo=ZoneInfo("Asia/Hong_Kong")))
    settings = agent_settings(fake_api, tmp_path, db_url, calendar="office")
    harness = Harness(fake_api, settings, saturday_night, interpreter)
    await harness.start()
    try:
        customer = fake_api.user(511, "Kwok", language_code="en")
        await harness.say(customer, "/agent")
        last = harness.to_customer(customer)[-1]
        assert "will be back" in last and "9:00" in last.replace("09:00", "9:00")
    finally:
        await harness.close()
    assert isinstance(GroupPost.__tablename__, str)


async def test_queue_mine_assign_and_only_the_holder_talks(harness: Harness) -> None:
    api = harness.api
    alice = await harness.register(7001, "Alice")
    bob = await harness.register(7002, "Bob")
    first, first_id = await _escalated(harness, 540, "Siu")
    await _escalated(harness, 541, "Tam")
    one, two = await harness.topics()
    await harness.feed(api.group_update(alice, GROUP, "Hello?", thread_id=one.thread_id))
    await harness.feed(api.group_update(alice, GROUP, "/claim", thread_id=one.thread_id))
    await harness.feed(api.group_update(bob, GROUP, "I can help", thread_id=one.thread_id))
    await harness.feed(api.group_update(bob, GROUP, "/queue"))
    await harness.feed(api.group_update(alice, GROUP, "/mine"))
    await harness.relay()
    notices = [str(c.params.get("text")) for c in harness.group_calls(one.thread_id)]
    assert any("請先按「認領」" in n for n in notices)  # Alice before claiming
    assert any("Alice 正在處理" in n for n in notices)  # Bob is not the holder
    general = [c for c in harness.group_calls() if not c.params.get("message_thread_id")]
    queue, mine = (str(c.params["text"]) for c in general[-2:])
    assert "未完成個案（2）" in queue and "Siu" in queue and "Tam" in queue
    assert "Alice" in queue and "沒有時限" in queue  # no ticket, no deadline
    assert "我的個案（1）" in mine and "Siu" in mine and "Tam" not in mine
    assert not any("Hello?" in t or "I can help" in t for t in harness.to_customer(first))

    # Alice hands it to Bob: now only Bob's messages reach the customer.
    await harness.feed(api.group_update(alice, GROUP, "/assign @bob", thread_id=one.thread_id))
    conversation = await harness.conversation(first.id)
    async with harness.app.db.session() as session:
        bob_row = (await session.execute(select(Agent).where(Agent.name == "Bob"))).scalar_one()
    assert (conversation.owner, conversation.agent_id) == (Owner.AGENT, bob_row.id)
    assert "Bob" in harness.to_customer(first)[-1]
    await harness.feed(api.group_update(bob, GROUP, "Bob here", thread_id=one.thread_id))
    assert harness.to_customer(first)[-1] == "Bob: Bob here"
    await harness.feed(api.group_update(alice, GROUP, "/resolve", thread_id=one.thread_id))
    await harness.relay()
    assert (await harness.topics())[0].state == TopicState.CLAIMED  # Alice may no longer
    assert "只有他或主管" in str(harness.group_calls(one.thread_id)[-1].params["text"])
    async with harness.app.db.session() as session:
        owners = (
            (
                await session.execute(
                    select(ConversationEvent.data).where(
                        ConversationEvent.conversation_id == conversation.id,
                        ConversationEvent.event == "owner",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [o["owner"] for o in owners] == ["agent", "agent"]
    assert first_id == one.id and two.state == TopicState.QUEUED


@pytest.mark.postgres
async def test_two_processes_relay_each_post_once(
    fake_api: FakeBotAPI,
    tmp_path: Path,
    pg_databases: TemplateDatabases,
    clock: FrozenClock,
    interpreter: Any,
) -> None:
    """Two workers (separate pools, separate relays) on one PostgreSQL database: the advisory
    lock lets one relay at a time, so no post goes out twice."""
    url = pg_databases.take()
    one = Harness(fake_api, agent_settings(fake_api, tmp_path, url), clock, interpreter)
    two = Harness(fake_api, agent_settings(fake_api, tmp_path, url), clock, interpreter)
    await one.start()
    await two.start()
    try:
        customers = [fake_api.user(700 + i, f"P{i}", language_code="en") for i in range(6)]
        for customer in customers:
            await one.say(customer, "/agent")
        for n in range(30):
            await one.feed(fake_api.text_update(customers[n % 6], f"burst {n:02d}"))
        for _ in range(40):
            clock.advance(seconds=2)
            await asyncio.gather(one.desk.relay.run_once(), two.desk.relay.run_once())
        posts = await one.posts()
        assert all(p.sent_at is not None for p in posts)
        assert len(fake_api.calls_to("createForumTopic")) == 6
        relayed = [c for c in fake_api.sent(GROUP) if "reply_markup" not in c.params]  # not cards
        body = "\n".join(str(c.params.get("text")) for c in relayed)
        counts = {n: body.count(f"burst {n:02d}") for n in range(30)}
        assert set(counts.values()) == {1}, counts
    finally:
        await one.close()
        await two.close()
        pg_databases.give_back(url)


async def test_group_check_warns_when_the_bot_cannot_manage_topics(harness: Harness) -> None:
    api = harness.api
    rights: dict[str, Any] = {"can_manage_topics": True}

    def get_chat(params: dict[str, Any], files: dict[str, Any]) -> Any:
        return api.chats[int(params["chat_id"])] | {"accent_color_id": 0, "max_reaction_count": 11}

    def get_chat_member(params: dict[str, Any], files: dict[str, Any]) -> Any:
        member = {"status": "administrator", "user": api.bot_user.to_dict(),
                  "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                  "can_delete_messages": True, "can_manage_video_chats": False,
                  "can_restrict_members": False, "can_promote_members": False,
                  "can_change_info": False, "can_invite_users": True,
                  "can_post_stories": False, "can_edit_stories": False,
                  "can_delete_stories": False}  # fmt: skip
        return member | rights

    # Telegram methods the fake server does not offer yet (getChat, getChatMember).
    api._m_getchat = get_chat  # type: ignore[attr-defined]
    api._m_getchatmember = get_chat_member  # type: ignore[attr-defined]
    assert await harness.desk.check_groups() == []
    rights["can_manage_topics"] = False
    [problem] = await harness.desk.check_groups()
    assert "Manage topics" in problem


async def test_a_group_refusing_posts_is_retried_with_backoff(harness: Harness) -> None:
    api = harness.api
    api.fail("createForumTopic", 400, times=3,
             description="Bad Request: not enough rights to create a topic")  # fmt: skip
    customer = api.user(550, "Chow", language_code="en")
    await harness.say(customer, "/agent")
    tries = []
    for _ in range(20):  # 20 s of the relay running every second
        await harness.relay()
        tries.append(len(api.calls_to("createForumTopic")))
        harness.clock.advance(seconds=1)
    assert tries[0] == 1 and tries[1] == 1  # not hammered: 2 s, 4 s, 8 s apart
    assert tries[-1] == 4  # the fourth try succeeded
    [topic] = await harness.topics()
    assert topic.thread_id is not None and len(harness.group_calls(topic.thread_id)) == 1


async def test_an_emergency_jumps_the_groups_backlog(harness: Harness) -> None:
    api = harness.api
    chatty = [(await _escalated(harness, 560 + i, f"Chatty {i}"))[0] for i in range(3)]
    for n in range(45):  # photos are never merged: a backlog of more than a minute's budget
        await harness.feed(api.photo_update(chatty[n % 3], caption=f"photo {n}"))
        harness.clock.advance(seconds=1)
        await harness.relay()
    customer = api.user(569, "Urgent", language_code="en")
    await _with_ticket(harness, customer, kind="repair", category="lift", priority="urgent",
                       description="Trapped in the lift")  # fmt: skip
    await harness.say(customer, "/agent")
    for _ in range(300):
        harness.clock.advance(seconds=1)
        await harness.relay()
        if len(api.calls_to("createForumTopic")) == 4:
            break
    [urgent] = [t for t in await harness.topics() if t.urgent]
    assert urgent.thread_id is not None and urgent.name.startswith("🚨")
    waiting = [p for p in await harness.posts() if p.sent_at is None and p.kind == "relay_copy"]
    assert len(waiting) >= 5, "the emergency waited behind the whole backlog"
