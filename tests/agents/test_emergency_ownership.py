"""#11: an emergency in a chat an agent owns, or one waiting in the queue, is not only relayed:
the customer gets the safety advice at once, an urgent ticket is opened, the on-duty alert goes
to the agents, and the message still reaches the topic."""

from __future__ import annotations

from sqlalchemy import select

from bot.agents.models import TopicState
from bot.followups import FollowupWorker
from bot.followups.sla import SlaAlertHandler
from bot.store.models import Owner, Ticket
from tests.agents.support import GROUP, Harness
from tests.fakes.bot_api import FakeUser

TRAPPED = "救命！有人困咗喺𨋢入面！"


async def _queued(harness: Harness, user_id: int, name: str) -> FakeUser:
    customer = harness.api.user(user_id, name, language_code="zh-hant")
    await harness.say(customer, "轉人工")
    await harness.relay()
    assert (await harness.conversation(customer.id)).owner == Owner.QUEUE
    return customer


async def _tickets(harness: Harness) -> list[Ticket]:
    async with harness.app.db.session() as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars())


async def _alert(harness: Harness) -> None:
    """Run the on-duty alert the urgent ticket scheduled, then the group relay."""
    handler = SlaAlertHandler(harness.desk.alerts(), harness.clock)
    worker = FollowupWorker(
        harness.app.db, harness.settings, harness.clock, {"emergency_alert": handler}
    )
    await worker.run_until_idle()
    harness.clock.advance(seconds=5)  # past the relay's coalescing window
    await harness.relay(rounds=2)


def _topic_texts(harness: Harness, thread_id: int | None) -> list[str]:
    return [str(c.params.get("text")) for c in harness.group_calls(thread_id)]


async def test_emergency_in_an_agents_chat_gets_advice_ticket_alert_and_relay(
    harness: Harness,
) -> None:
    api = harness.api
    alice = await harness.register(7101, "Alice")
    customer = await _queued(harness, 601, "陳太")
    [topic] = await harness.topics()
    [card] = harness.group_calls(topic.thread_id)
    await harness.feed(
        api.callback_update(alice, chat_id=GROUP, message_id=card.result["message_id"])
    )
    assert (await harness.conversation(customer.id)).owner == Owner.AGENT

    before = len(harness.to_customer(customer))
    await harness.say(customer, TRAPPED)
    told = harness.to_customer(customer)[before:]
    assert told and told[0].startswith("⚠️ 有人被困升降機")  # the advice first
    [ticket] = await _tickets(harness)
    assert (ticket.kind, ticket.priority, ticket.category) == ("repair", "urgent", "lift")
    assert ticket.details["emergency"] == "trapped" and ticket.number in "\n".join(told)
    assert not any("喺邊個位置" in t for t in told)  # Alice asks what she needs herself
    conversation = await harness.conversation(customer.id)
    assert conversation.owner == Owner.AGENT  # the chat stays hers

    await _alert(harness)
    [topic] = await harness.topics()
    assert topic.state == TopicState.CLAIMED and topic.urgent
    texts = _topic_texts(harness, topic.thread_id)
    assert any(TRAPPED in t for t in texts)  # relayed as before
    assert any("緊急工單已開立" in t and ticket.number in t for t in texts)  # office language


async def test_emergency_in_a_queued_chat_gets_advice_ticket_alert_and_relay(
    harness: Harness,
) -> None:
    customer = await _queued(harness, 602, "李生")
    before = len(harness.to_customer(customer))
    await harness.say(customer, TRAPPED)
    told = harness.to_customer(customer)[before:]
    assert told[0].startswith("⚠️ 有人被困升降機")
    assert any("喺邊個位置" in t for t in told)  # nobody is talking to them yet: Kefu asks
    await harness.say(customer, "7座地下大堂1號電梯")
    [ticket] = await _tickets(harness)
    assert (ticket.priority, ticket.category, ticket.unit) == (
        "urgent",
        "lift",
        "7座地下大堂1號電梯",
    )
    assert (await harness.conversation(customer.id)).owner == Owner.QUEUE

    await _alert(harness)
    [topic] = await harness.topics()
    assert topic.urgent and topic.reason == "emergency" and topic.name.startswith("🚨")
    texts = _topic_texts(harness, topic.thread_id)
    assert any("緊急工單已開立" in t and ticket.number in t for t in texts)  # office language
    assert any(TRAPPED in t for t in texts)  # the report itself, on the card or relayed
    assert any("7座地下大堂1號電梯" in t for t in texts)  # the answer reaches the agents too
