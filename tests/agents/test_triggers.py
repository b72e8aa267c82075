"""Escalation triggers through the real dialogue (NLU, forms, tickets): a complaint, an
emergency repair, two misunderstandings (when configured), a bad survey."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.agents.models import TopicState
from bot.clock import FrozenClock
from bot.store.models import Owner, Ticket, TicketEvent
from tests.agents.support import Harness, agent_settings
from tests.fakes.bot_api import FakeBotAPI, FakeUser


async def _press(harness: Harness, user: FakeUser, title: str) -> None:
    await harness.feed(harness.api.callback_update(user, text=title))
    await harness.desk.pump_once()


async def test_complaint_ticket_goes_to_an_agent(harness: Harness) -> None:
    customer = harness.api.user(530, "陳大文", language_code="zh-hant")
    await harness.say(customer, "樓上半夜裝修好吵")
    await _press(harness, customer, "匿名")
    await _press(harness, customer, "確認提交")
    [ticket] = await _tickets(harness)
    assert ticket.kind == "complaint"
    assert (await harness.conversation(customer.id)).owner == Owner.QUEUE
    texts = harness.to_customer(customer)
    assert any("已登記投訴" in t for t in texts)
    assert "轉交同事跟進" in texts[-1]
    await harness.relay()
    [topic] = await harness.topics()
    assert topic.reason == "complaint" and topic.ticket_id == ticket.id
    assert topic.name.startswith(ticket.number) and "投訴" in topic.name
    card = harness.group_calls(topic.thread_id)[0].params["text"]
    assert ticket.number in card and "樓上半夜裝修好吵" in card
    assert "首次回覆期限" in card  # SLA due times on the card
    async with harness.app.db.session() as session:
        actions = (
            (
                await session.execute(
                    select(TicketEvent.action).where(TicketEvent.ticket_id == ticket.id)
                )
            )
            .scalars()
            .all()
        )
    assert "escalated" in actions


async def test_emergency_repair_goes_to_an_agent_urgently(harness: Harness) -> None:
    customer = harness.api.user(531, "Ada", language_code="en")
    await harness.say(customer, "Help! I'm stuck in the lift")
    [ticket] = await _tickets(harness)  # at once: no form, no Confirm
    assert ticket.priority == "urgent" and ticket.category == "lift"
    texts = harness.to_customer(customer)
    assert texts[0].startswith("⚠️ Someone trapped in a lift")
    assert "colleague" in texts[-1]
    await harness.relay()
    [topic] = await harness.topics()
    assert topic.reason == "emergency" and topic.urgent and topic.name.startswith("🚨")
    # Queued now, but nobody talks to the customer yet: Kefu still asks where it is.
    assert any("Where exactly" in t for t in texts)
    await harness.say(customer, "Block 3 lift lobby")
    await harness.say(customer, "9123 4567")
    [ticket] = await _tickets(harness)
    assert (ticket.unit, ticket.contact_phone) == ("Block 3 lift lobby", "+85291234567")


async def test_two_misunderstandings_escalate_when_configured(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any
) -> None:
    settings = agent_settings(fake_api, tmp_path, db_url, escalate_on_fallback=True)
    harness = Harness(fake_api, settings, clock, interpreter)
    await harness.start()
    try:
        customer = fake_api.user(532, "Bo", language_code="en")
        await harness.say(customer, "something about my flat")
        assert (await harness.conversation(customer.id)).owner == Owner.BOT
        await harness.say(customer, "regarding my place")
        assert (await harness.conversation(customer.id)).owner == Owner.QUEUE
        [topic] = await harness.topics()
        assert topic.reason == "fallback" and topic.state == TopicState.QUEUED
        assert "colleague" in harness.to_customer(customer)[-1]
    finally:
        await harness.close()


async def test_without_the_setting_a_person_is_only_offered(harness: Harness) -> None:
    customer = harness.api.user(533, "Cy", language_code="en")
    await harness.say(customer, "something about my flat")
    await harness.say(customer, "regarding my place")
    assert (await harness.conversation(customer.id)).owner == Owner.BOT
    assert await harness.topics() == []


async def _tickets(harness: Harness) -> list[Ticket]:
    async with harness.app.db.session() as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars())


async def test_bad_survey_goes_to_an_agent(harness: Harness) -> None:
    from bot.tickets.lifecycle import resolve_ticket

    customer = harness.api.user(534, "李小姐", language_code="zh-hant")
    for text in ["浴室水龍頭漏水", "3棟2單元1502室", "任何時間", "91234567"]:
        await harness.say(customer, text)
    await _press(harness, customer, "確認提交")
    [ticket] = await _tickets(harness)
    async with harness.app.db.write() as session:
        fresh = await session.get_one(Ticket, ticket.id)
        await resolve_ticket(
            session, fresh, settings=harness.settings, now=harness.clock.now(), actor="staff:1"
        )
    worker = harness.app.followup_worker()
    harness.desk.attach_followups(worker)
    harness.clock.advance(harness.settings.sla.survey_delay)
    await worker.run_until_idle()
    await harness.tg.channel.flush_outbox()  # the survey question
    assert "評分" in harness.to_customer(customer)[-1]
    await harness.say(customer, "1分")
    await _press(harness, customer, "未解決")
    await harness.say(customer, "仲係漏緊水")
    assert (await harness.conversation(customer.id)).owner == Owner.QUEUE
    await harness.relay()
    [topic] = await harness.topics()
    assert (topic.reason, topic.ticket_id) == ("survey", ticket.id)
    card = harness.group_calls(topic.thread_id)[0].params["text"]
    assert "回訪評分偏低" in card
