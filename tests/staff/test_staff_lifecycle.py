"""The lifecycle behind the doors, measured where the issue measured it: after rework the old
answer no longer silences the new call-back (a second survey, and a phone task for the new
resolution only); a complaint resolved from the agents' group tells the complainant, and an
unsatisfied complainant alerts the supervisors in the group."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import install_events
from bot.clock import FrozenClock
from bot.config import load_settings
from bot.followups.deadlines import apply_deadlines
from bot.followups.models import Followup
from bot.followups.sla import LoggingAlerts, sla_handlers
from bot.followups.worker import FollowupWorker
from bot.staff import service
from bot.store.db import Database
from bot.store.models import Ticket
from bot.tickets import open_ticket
from bot.tickets.lifecycle import resolve_ticket
from tests.agents.support import GROUP, Harness
from tests.agents.test_group_side import _with_ticket
from tests.agents.test_reopen_event import _run_desk_worker


async def test_after_rework_the_new_resolution_gets_its_own_phone_task(
    db: Database, clock: FrozenClock
) -> None:
    settings = load_settings(environ={}, database={"url": db.url})
    install_events(db, settings)
    async with db.write() as s:
        ticket = await open_ticket(
            s, kind="repair", category="water_leak", now=clock.now(), actor="staff:Mary",
            contact_phone="+85291234567", description="leak",
        )  # fmt: skip
        await apply_deadlines(s, ticket, settings, clock.now())
        await resolve_ticket(s, ticket, settings=settings, now=clock.now(), actor="staff:Ken")
        ticket_id = ticket.id
    clock.advance(hours=4)
    async with db.write() as s:
        ticket = await s.get_one(Ticket, ticket_id)
        done = await service.record_callback(
            s, ticket, settings=settings, now=clock.now(), actor="staff:Mary", score=1,
            fixed=False, comment="still leaking",
        )  # fmt: skip
        assert done.reopened and done.rework_due is not None
    clock.advance(hours=6)
    async with db.write() as s:
        ticket = await s.get_one(Ticket, ticket_id)
        await resolve_ticket(s, ticket, settings=settings, now=clock.now(), actor="staff:Ken")
        assert ticket.survey_score is None and ticket.status == "resolved"

    # Nobody answers the second call-back: the phone task of the new resolution alerts once,
    # and only that one (the first resolution's was cancelled by the first answer).
    alerts = LoggingAlerts()
    clock.advance(days=4)
    worker = FollowupWorker(db, settings, clock, sla_handlers(alerts, clock))
    await worker.run_until_idle()
    await worker.run_until_idle()
    calls = [a for a in alerts.sent if "call the resident" in a["title"]]
    assert len(calls) == 1
    async with db.session() as s:
        rows = (await s.execute(select(Followup).where(Followup.ticket_id == ticket_id))).scalars()
        phone = [f for f in rows if f.kind == "phone_callback"]
    assert [f.status for f in phone] == ["cancelled", "done"]


async def test_complaint_resolved_in_the_group_tells_the_complainant(harness: Harness) -> None:
    api = harness.api
    alice = await harness.register(7321, "Alice", role="supervisor")
    customer = api.user(741, "Ho", language_code="en")
    ticket = await _with_ticket(
        harness, customer, kind="complaint", category="noise", description="Gym noise at night"
    )
    await harness.say(customer, "/agent")
    await harness.relay()
    [topic] = await harness.topics()
    thread = topic.thread_id
    await harness.feed(api.group_update(alice, GROUP, "/claim", thread_id=thread))
    await harness.feed(api.group_update(alice, GROUP, "/resolve internal only", thread_id=thread))
    await _run_desk_worker(harness)
    await harness.tg.channel.flush_outbox()  # what kefu run's outbox sweep does
    told = harness.to_customer(customer)
    outcome = [t for t in told if "Your complaint" in t and ticket.number in t]
    assert len(outcome) == 1 and "internal only" not in outcome[0]

    # The complainant is called back by a person: not satisfied, the complaint reopens and
    # the supervisors are alerted in the group.
    await harness.feed(
        api.group_update(alice, GROUP, "/callback 1 notfixed still noisy", thread_id=thread)
    )
    await _run_desk_worker(harness)
    async with harness.app.db.session() as session:
        fresh = await session.get_one(Ticket, ticket.id)
        alert = (
            await session.execute(select(Followup).where(Followup.kind == "complaint_unsatisfied"))
        ).scalar_one()
    assert fresh.status == "open" and alert.status == "done"
    posted = "\n".join(str(c.params.get("text", "")) for c in harness.group_calls())
    assert "complainant not satisfied" in posted and "@alice" in posted
