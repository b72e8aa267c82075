"""A claimed chat nobody answers goes back to the queue after ``agents.claim_idle_timeout``
(30 min): a fresh card, the supervisors told, the customer told, the claim reminders again;
on the injected clock, through the real channel and the fake Bot API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.agents.models import TopicState
from bot.clock import FrozenClock
from bot.followups import FollowupWorker
from bot.store.models import Owner, TicketEvent
from tests.agents.support import GROUP, Harness, agent_settings
from tests.fakes.bot_api import FakeBotAPI, FakeUser

SORRY = "Sorry to keep you waiting"
LEAK = "Water coming through the ceiling"


def _idle_notices(calls: list[Any]) -> list[Any]:
    """The "back to the queue" notices (cards show due times with ⏳ too)."""
    return [
        c for c in calls if "reply_markup" not in c.params and "⏳" in str(c.params.get("text"))
    ]


def _worker(harness: Harness) -> FollowupWorker:
    return FollowupWorker(
        harness.app.db, harness.settings, harness.clock, harness.desk.followup_handlers()
    )


async def _state(harness: Harness) -> tuple[str, int | None]:
    [topic] = await harness.topics()
    return topic.state, topic.agent_id


async def _to_customer(harness: Harness, customer: FakeUser) -> list[str]:
    await harness.tg.channel.flush_outbox()  # as the running bot's outbox sweep does
    return harness.to_customer(customer)


async def test_a_silent_claim_goes_back_to_the_queue(harness: Harness) -> None:
    alice = await harness.register(7001, "Alice")
    await harness.register(7009, "Carol", role="supervisor")
    customer = harness.api.user(620, "Leung", language_code="en")
    ticket, thread = await harness.claimed_repair(
        customer, alice, "Water coming through the ceiling"
    )
    worker = _worker(harness)
    cards_before = len([c for c in harness.group_calls(thread) if "reply_markup" in c.params])

    harness.clock.advance(minutes=29)
    await worker.run_until_idle()
    assert (await _state(harness))[0] == TopicState.CLAIMED
    assert (await harness.conversation(customer.id)).owner == Owner.AGENT

    harness.clock.advance(minutes=2)
    await worker.run_until_idle()
    state, agent_id = await _state(harness)
    assert (state, agent_id) == (TopicState.QUEUED, None)
    assert (await harness.conversation(customer.id)).owner == Owner.QUEUE

    await harness.relay()
    posts = harness.group_calls(thread)
    cards = [c for c in posts if "reply_markup" in c.params]
    assert len(cards) == cards_before + 1  # a fresh card, with the Claim button again
    assert "claim" in str(cards[-1].params["reply_markup"])
    [notice] = _idle_notices(posts)
    assert "Carol" in notice.params["text"] and "Alice" in notice.params["text"]
    assert "31" in notice.params["text"]
    assert notice.params["entities"][0]["user"]["id"] == 7009  # the supervisor is notified
    texts = await _to_customer(harness, customer)
    assert texts[-1].startswith(SORRY) and "emergency" in texts[-1]
    async with harness.app.db.session() as session:
        events = (
            await session.execute(
                select(TicketEvent.data).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.action == "claim_idle_requeued"
                )
            )
        ).scalars().all()  # fmt: skip
    assert len(events) == 1 and events[0]["waiting_minutes"] == 31

    # Once: running again changes nothing; the unclaimed reminders start again.
    harness.clock.advance(minutes=5)
    await worker.run_until_idle()
    await harness.relay()
    assert len(_idle_notices(harness.group_calls(thread))) == 1
    harness.clock.advance(minutes=15)
    await worker.run_until_idle()
    await harness.relay()
    assert "仍未有人認領" in str(harness.group_calls(thread)[-1].params.get("text"))

    # Someone claims it again: the customer is theirs.
    bob = await harness.register(7002, "Bob")
    await harness.feed(harness.api.group_update(bob, GROUP, "/claim", thread_id=thread))
    assert (await harness.conversation(customer.id)).owner == Owner.AGENT
    await harness.feed(harness.api.group_update(bob, GROUP, "On it", thread_id=thread))
    assert harness.to_customer(customer)[-1] == "Bob: On it"


async def test_an_answered_chat_stays_until_the_customer_waits_again(harness: Harness) -> None:
    alice = await harness.register(7001, "Alice")
    customer = harness.api.user(621, "Mok", language_code="en")
    _ticket, thread = await harness.claimed_repair(
        customer, alice, "Water coming through the ceiling"
    )
    worker = _worker(harness)
    harness.clock.advance(minutes=10)
    await harness.feed(harness.api.group_update(alice, GROUP, "Checking now", thread_id=thread))

    # Answered, and the customer has not written since: no timeout, however long.
    harness.clock.advance(hours=3)
    await worker.run_until_idle()
    assert await _state(harness) != (TopicState.QUEUED, None)

    # The customer writes (twice) and Alice goes quiet: 30 min after the first message.
    await harness.say(customer, "Any news?")
    harness.clock.advance(minutes=20)
    await harness.say(customer, "Hello??")
    harness.clock.advance(minutes=9)
    await worker.run_until_idle()
    assert (await _state(harness))[0] == TopicState.CLAIMED
    harness.clock.advance(minutes=2)
    await worker.run_until_idle()
    assert await _state(harness) == (TopicState.QUEUED, None)
    assert (await _to_customer(harness, customer))[-1].startswith(SORRY)


async def test_an_answer_in_time_keeps_the_claim(harness: Harness) -> None:
    alice = await harness.register(7001, "Alice")
    customer = harness.api.user(622, "Yau", language_code="en")
    _ticket, thread = await harness.claimed_repair(
        customer, alice, "Water coming through the ceiling"
    )
    worker = _worker(harness)
    await harness.say(customer, "The water is getting worse")
    harness.clock.advance(minutes=25)
    await harness.feed(
        harness.api.group_update(alice, GROUP, "Plumber on the way", thread_id=thread)
    )
    harness.clock.advance(hours=2)
    await worker.run_until_idle()
    [topic] = await harness.topics()
    assert topic.state == TopicState.CLAIMED and topic.agent_id is not None
    assert not any(t.startswith(SORRY) for t in await _to_customer(harness, customer))


async def test_the_wait_counts_in_the_agents_working_hours(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, interpreter: Any
) -> None:
    """Claimed at Friday 17:45 (office closes 18:00): 15 min that evening, 15 min on
    Saturday from 09:00; supervisors are not paged overnight for a normal chat."""
    friday = FrozenClock(datetime(2026, 11, 27, 17, 45, tzinfo=ZoneInfo("Asia/Hong_Kong")))
    harness = Harness(
        fake_api, agent_settings(fake_api, tmp_path, db_url, calendar="office"), friday, interpreter
    )
    await harness.start()
    try:
        alice = await harness.register(7001, "Alice")
        customer = harness.api.user(623, "Kan", language_code="en")
        await harness.claimed_repair(customer, alice, LEAK)
        worker = _worker(harness)
        friday.advance(hours=5)  # 22:45
        await worker.run_until_idle()
        assert (await _state(harness))[0] == TopicState.CLAIMED
        friday.advance(hours=10, minutes=29)  # Saturday 09:14
        await worker.run_until_idle()
        assert (await _state(harness))[0] == TopicState.CLAIMED
        friday.advance(minutes=2)  # Saturday 09:16
        await worker.run_until_idle()
        assert await _state(harness) == (TopicState.QUEUED, None)
    finally:
        await harness.close()
