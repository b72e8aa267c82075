"""Issue 14 (5): the agents' side speaks the office's language — labels instead of codes on the
card, deadlines that say "overdue", the rework deadline, alerts in Chinese — copies the
customer's earlier photos into the topic once, and reminds the group to claim at fractions of
the first-response deadline. Issue 12: Escalated and OwnerChanged are raised once each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.agents.cards import render_card
from bot.agents.models import AgentTopic, GroupPost, PostKind
from bot.agents.service import CLAIM_REMINDER, CLAIM_SUPERVISOR
from bot.events import SESSION_KEY, Escalated, EscalationReason, EventBus, OwnerChanged
from bot.followups import FollowupWorker
from bot.followups.deadlines import apply_deadlines
from bot.followups.models import Followup
from bot.followups.sla import start_rework
from bot.store.models import Owner, Ticket
from bot.tickets import open_ticket
from tests.agents.support import GROUP, Harness
from tests.fakes.bot_api import FakeUser


async def _ticket(harness: Harness, customer: FakeUser, kind: str, category: str) -> Ticket:
    """A ticket opened for the customer's conversation (as staff would), deadlines applied."""
    conversation = await harness.conversation(customer.id)
    now = harness.clock.now()
    async with harness.app.db.write() as session:
        ticket = await open_ticket(
            session, kind=kind, category=category, now=now, actor="user",
            contact_id=conversation.contact_id, conversation_id=conversation.id,
            description="廚房水喉漏水", visit_time="asap",
        )  # fmt: skip
        await apply_deadlines(session, ticket, harness.settings, now)
        return ticket


async def _topic(harness: Harness) -> AgentTopic:
    [topic] = await harness.topics()
    return topic


async def test_the_card_is_in_the_office_language_with_labels_and_overdue(
    harness: Harness,
) -> None:
    customer = harness.api.user(560, "陳太", language_code="zh-hant")
    await harness.say(customer, "你好")
    ticket = await _ticket(harness, customer, "repair", "water_leak")
    await harness.say(customer, "/agent")
    assert ticket.due_first_response is not None
    harness.clock.advance(ticket.due_first_response - harness.clock.now() + timedelta(hours=2))
    await harness.relay()
    topic = await _topic(harness)
    card = str(harness.group_calls(topic.thread_id)[0].params["text"])
    assert "漏水／水管" in card and "越快越好" in card and "一般" in card and "報修" in card
    assert "繁體中文" in card
    for code in ("water_leak", "normal", "asap", "zh-Hant", "repair"):
        assert code not in card, code
    assert "已逾期 2h00m" in card  # the first response is overdue, and says so

    # A rework order (bad call-back) shows its own deadline on the card.
    async with harness.app.db.write() as session:
        fresh = await session.get_one(Ticket, ticket.id)
        due = await start_rework(session, fresh, harness.settings, harness.clock.now())
    async with harness.app.db.session() as session:
        fresh_topic = await session.get_one(AgentTopic, topic.id)
        body, _ = await render_card(harness.desk.takeover, session, fresh_topic)
    assert "返工期限" in body and harness.desk.takeover.when(due) in body


async def test_earlier_photos_are_copied_into_the_topic_once(harness: Harness) -> None:
    customer = harness.api.user(561, "何生", language_code="zh-hant")
    await harness.feed(harness.api.photo_update(customer, caption="天花板滴水"))
    await harness.desk.pump_once()
    await harness.say(customer, "/agent")
    await harness.say(customer, "請快啲")  # while queued: relayed as usual
    harness.clock.advance(seconds=5)
    await harness.relay(rounds=3)
    topic = await _topic(harness)
    copies = [
        c
        for c in harness.api.calls_to("copyMessage")
        if int(c.params.get("message_thread_id") or 0) == topic.thread_id
    ]
    assert len(copies) == 1  # the photo sent before the escalation, once
    assert int(copies[0].params["from_chat_id"]) == customer.id
    assert "天花板滴水" in str(copies[0].params.get("caption"))

    # Escalated again (an SLA alert on the same open topic): the photo is not copied twice.
    conversation = await harness.conversation(customer.id)
    async with harness.app.db.write() as session:
        fresh = await session.get_one(type(conversation), conversation.id)
        await harness.desk.takeover.escalate(
            session, fresh, reason=EscalationReason.SLA, now=harness.clock.now()
        )
    await harness.relay(rounds=2)
    async with harness.app.db.session() as session:
        rows = (
            await session.execute(select(GroupPost).where(GroupPost.kind == PostKind.RELAY_COPY))
        ).scalars()
        assert len(list(rows)) == 1


async def test_claim_reminders_at_a_quarter_and_half_of_the_first_response_deadline(
    harness: Harness,
) -> None:
    customer = harness.api.user(562, "Mr Lam", language_code="en")
    await harness.say(customer, "/lang en")
    ticket = await _ticket(harness, customer, "complaint", "noise")
    start = harness.clock.now()
    await harness.say(customer, "/agent")
    assert ticket.due_first_response is not None
    span = ticket.due_first_response - start
    async with harness.app.db.session() as session:
        rows = (
            await session.execute(
                select(Followup.kind, Followup.due_at)
                .where(Followup.kind.in_([CLAIM_REMINDER, CLAIM_SUPERVISOR]))
                .order_by(Followup.due_at)
            )
        ).all()
    due = [(kind, at.astimezone(start.tzinfo)) for kind, at in rows]
    settings = harness.settings.agents
    assert due == [
        (CLAIM_REMINDER, start + span * 0.25),
        (CLAIM_REMINDER, start + span * 0.5),
        (CLAIM_SUPERVISOR, start + span * 0.5 + settings.supervisor_after),
    ]
    assert span > timedelta(hours=24)  # a complaint: the first reminder is not at the deadline

    # At a quarter, the group is reminded (in the office's language), with the deadline.
    worker = FollowupWorker(
        harness.app.db, harness.settings, harness.clock, harness.desk.followup_handlers()
    )
    await harness.relay()
    harness.clock.advance(span * 0.25)
    await worker.run_until_idle()
    await harness.relay()
    topic = await _topic(harness)
    texts = [str(c.params.get("text")) for c in harness.group_calls(topic.thread_id)]
    waited = harness.desk.takeover.texts.span(span * 0.25)  # hours, not thousands of minutes
    assert any(f"已等了 {waited}" in t and "首次回覆期限" in t for t in texts)


async def test_escalated_and_owner_changed_are_raised_once(harness: Harness) -> None:
    bus = harness.app.db.sessionmaker.kw["info"][SESSION_KEY]
    assert isinstance(bus, EventBus)
    raised: list[Any] = []

    async def record(session: Any, event: Any) -> None:
        raised.append(event)

    bus.subscribe(Escalated, record)
    bus.subscribe(OwnerChanged, record)
    alice = await harness.register(7100, "Alice")
    customer = harness.api.user(563, "Ng", language_code="en")
    await harness.say(customer, "/lang en")
    await harness.say(customer, "/agent")
    await harness.say(customer, "anyone there?")
    await harness.relay()
    conversation = await harness.conversation(customer.id)
    escalated = [e for e in raised if isinstance(e, Escalated)]
    assert [e.reason for e in escalated] == [EscalationReason.HUMAN]
    assert escalated[0].conversation_id == conversation.id

    topic = await _topic(harness)
    await harness.feed(harness.api.group_update(alice, GROUP, "/claim", thread_id=topic.thread_id))
    await harness.feed(
        harness.api.group_update(alice, GROUP, "/release", thread_id=topic.thread_id)
    )
    owners = [(e.owner, e.conversation_id) for e in raised if isinstance(e, OwnerChanged)]
    assert owners == [
        (Owner.QUEUE, conversation.id),  # the hand-over (/agent)
        (Owner.AGENT, conversation.id),
        (Owner.BOT, conversation.id),
    ]
    assert sum(isinstance(e, Escalated) for e in raised) == 1
