"""A reopened ticket reopens its agents' topic with a fresh card, through the TicketReopened
event and nothing else: ``kefu tickets reopen`` as a real process against the database that a
running agents' desk (real PTB, fake Bot API) watches, and a bad call-back survey through the
engine. Neither test calls the listener or ``Takeover.ticket_reopened`` itself."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.agents.models import TopicState
from bot.followups import Followup
from bot.store.models import Ticket, TicketStatus
from tests.agents.support import GROUP, ROOT, Harness
from tests.agents.test_group_side import _with_ticket

pytestmark = pytest.mark.process


async def _resolved_in_group(harness: Harness, user_id: int) -> tuple[Ticket, int]:
    """A repair escalated, claimed and resolved by an agent: its topic is closed."""
    api = harness.api
    alice = await harness.register(7101, "Alice")
    customer = api.user(user_id, "Lam", language_code="en")
    ticket = await _with_ticket(
        harness, customer, kind="repair", category="water_leak", description="Leak", unit="1503"
    )
    await harness.say(customer, "/agent")
    await harness.relay()
    [topic] = await harness.topics()
    await harness.feed(api.group_update(alice, GROUP, "/claim", thread_id=topic.thread_id))
    await harness.feed(api.group_update(alice, GROUP, "/resolve done", thread_id=topic.thread_id))
    await harness.relay()
    assert topic.thread_id is not None
    forum = api.topics[(GROUP, topic.thread_id)]
    assert forum.closed
    return ticket, topic.thread_id


def _cards(harness: Harness, thread_id: int) -> list[str]:
    """The ticket cards posted in the topic (a card starts with 🎫 and the ticket's line)."""
    return [
        str(c.params.get("text", ""))
        for c in harness.group_calls(thread_id)
        if c.method == "sendMessage" and str(c.params.get("text", "")).startswith("🎫")
    ]


async def _run_desk_worker(harness: Harness) -> None:
    """What ``kefu run``'s follow-up worker does on its next wake-up (agents' handlers on)."""
    worker = harness.app.followup_worker()
    harness.desk.attach_followups(worker)
    await worker.run_until_idle()
    await harness.relay()


async def test_kefu_tickets_reopen_reopens_the_topic(harness: Harness, db_url: str) -> None:
    ticket, thread_id = await _resolved_in_group(harness, 611)
    cards_before = len(_cards(harness, thread_id))

    env = dict(
        os.environ,
        KEFU_CONFIG=str(ROOT / "config.yml"),
        KEFU_DATABASE_URL=db_url,
        KEFU_AGENTS__DEFAULT_GROUP_ID=str(GROUP),
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "tickets", "reopen", ticket.number, "--reason", "leaks"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{ticket.number} reopened" in done.stdout

    # The CLI process has no Telegram: it left one follow-up for the desk, in its transaction.
    async with harness.app.db.session() as session:
        rows = await session.execute(select(Followup).where(Followup.ticket_id == ticket.id))
        reopen = [f for f in rows.scalars() if f.kind == "agent_topic_reopen"]
    assert len(reopen) == 1 and reopen[0].status == "pending"

    # The running desk's worker (its clock past the CLI's real time) carries it out.
    harness.clock.set(max(harness.clock.now(), datetime.now(UTC) + timedelta(minutes=1)))
    await _run_desk_worker(harness)
    forum = harness.api.topics[(GROUP, thread_id)]
    assert not forum.closed and not forum.name.startswith("✅")
    [topic] = await harness.topics()
    assert topic.state == TopicState.QUEUED
    assert len(_cards(harness, thread_id)) == cards_before + 1  # one fresh card

    # Exactly once: another wake-up sends nothing more.
    calls = len(harness.group_calls(thread_id))
    await _run_desk_worker(harness)
    assert len(harness.group_calls(thread_id)) == calls


async def test_bad_survey_reopens_the_topic_with_one_fresh_card(harness: Harness) -> None:
    """The bad survey both escalates (the customer wants a person) and reopens the ticket: the
    topic comes back once, with one card, however the two meet (the listener finds it open)."""
    ticket, thread_id = await _resolved_in_group(harness, 612)
    cards_before = len(_cards(harness, thread_id))
    # The call-back survey is due a while after the resolution: the worker asks it.
    harness.clock.advance(days=3)
    await _run_desk_worker(harness)
    customer = harness.api.user(612, "Lam", language_code="en")
    await harness.say(customer, "1")  # the worst rating
    await harness.say(customer, "No")  # not fixed
    await harness.say(customer, "No, thanks")  # no comment

    async with harness.app.db.session() as session:
        fresh = await session.get(Ticket, ticket.id)
        assert fresh is not None and fresh.status == TicketStatus.OPEN
        rows = await session.execute(select(Followup).where(Followup.ticket_id == ticket.id))
        assert [f.kind for f in rows.scalars()].count("agent_topic_reopen") == 1
    await _run_desk_worker(harness)
    await _run_desk_worker(harness)
    forum = harness.api.topics[(GROUP, thread_id)]
    assert not forum.closed
    [topic] = await harness.topics()
    assert topic.state == TopicState.QUEUED
    assert len(_cards(harness, thread_id)) == cards_before + 1, [
        c.split("\n")[:2] for c in _cards(harness, thread_id)
    ]
