"""Follow-up scheduling and workers on real SQLite and PostgreSQL, with an explicit clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from followup_sink import SINK_DDL, FailingHandler, SinkHandler
from sqlalchemy import func, select, text

from bot.clock import FrozenClock
from bot.config import Settings, load_settings
from bot.followups import (
    Followup,
    FollowupHandler,
    FollowupKind,
    FollowupStatus,
    FollowupWorker,
    RetryLater,
    cancel_for_ticket,
    claim_due,
    complete,
    schedule,
)
from bot.followups.deadlines import apply_deadlines
from bot.followups.sla import LoggingAlerts, schedule_callback_survey, sla_handlers, survey_answered
from bot.store.db import Database
from bot.store.models import Ticket, TicketEvent, TicketStatus
from bot.tickets import open_ticket

HK = ZoneInfo("Asia/Hong_Kong")
LEASE = timedelta(seconds=60)


@pytest.fixture
async def db(db: Database) -> Database:
    """The test database with an empty sink and no follow-ups (PostgreSQL is per module)."""
    async with db.write() as s:
        await s.execute(text(SINK_DDL))
        await s.execute(text("DELETE FROM followup_sink"))
        await s.execute(text("DELETE FROM followups"))
    return db


def cfg_for(db: Database, **overrides: Any) -> Settings:
    return load_settings(environ={}, database={"url": db.url}, **overrides)


async def add(
    db: Database,
    n: int,
    due: datetime,
    *,
    kind: str = "test",
    step: timedelta | None = None,
    prefix: str = "k",
    **kw: object,
) -> None:
    async with db.write() as s:
        for i in range(n):
            await schedule(
                s,
                kind=kind,
                due_at=due + (step * i if step else timedelta(0)),
                idempotency_key=f"{prefix}{i}",
                now=due,
                **kw,  # type: ignore[arg-type]
            )


async def sink_keys(db: Database) -> list[str]:
    async with db.session() as s:
        rows = await s.execute(text("SELECT idempotency_key FROM followup_sink"))
        return [r[0] for r in rows]


async def statuses(db: Database) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(select(Followup.status, func.count()).group_by(Followup.status))
        return {status: count for status, count in rows}


async def test_schedule_is_idempotent_and_revives_cancelled(
    db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    async with db.write() as s:
        a = await schedule(s, kind="test", due_at=now, idempotency_key="same", now=now)
        b = await schedule(
            s, kind="test", due_at=now + timedelta(hours=1), idempotency_key="same", now=now
        )
        assert a.id == b.id and b.due_at == now
    async with db.write() as s:
        await s.execute(
            Followup.__table__.update().values(status=FollowupStatus.CANCELLED)  # type: ignore[attr-defined]
        )
    async with db.write() as s:
        c = await schedule(
            s,
            kind="test",
            due_at=now + timedelta(hours=2),
            idempotency_key="same",
            now=now,
            revive=True,
        )
        assert c.status == FollowupStatus.PENDING and c.due_at == now + timedelta(hours=2)
    with pytest.raises(ValueError):
        async with db.write() as s:
            await schedule(
                s, kind="test", due_at=datetime(2026, 1, 1), idempotency_key="naive", now=now
            )


async def test_due_rows_run_once_future_rows_wait(db: Database, clock: FrozenClock) -> None:
    await add(db, 5, clock.now() - timedelta(minutes=5))
    await add(db, 2, clock.now() + timedelta(hours=1), prefix="later")
    handler = SinkHandler("w1")
    worker = FollowupWorker(db, cfg_for(db), clock, {"test": handler}, worker_id="w1")
    assert await worker.run_until_idle() == 5
    assert await worker.run_until_idle() == 0
    assert sorted(await sink_keys(db)) == [f"k{i}" for i in range(5)]
    clock.advance(hours=1)
    assert await worker.run_until_idle() == 2
    assert await statuses(db) == {"done": 7}
    assert handler.calls == 7


async def test_expired_lease_is_taken_over(db: Database, clock: FrozenClock) -> None:
    await add(db, 4, clock.now())
    now = clock.now()
    claimed = await claim_due(db, "dead-worker", now, limit=10, lease=LEASE)
    assert len(claimed) == 4  # ...and the worker dies here without running them.
    other = FollowupWorker(db, cfg_for(db), clock, {"test": SinkHandler("w2")}, worker_id="w2")
    assert await other.run_until_idle(now + timedelta(seconds=30)) == 0  # lease still valid
    assert await other.run_until_idle(now + LEASE) == 4
    assert len(await sink_keys(db)) == 4
    # The dead worker coming back cannot complete rows that are no longer its own.
    ghost = FollowupWorker(
        db, cfg_for(db), clock, {"test": SinkHandler("dead")}, worker_id="dead-worker"
    )
    await ghost.process(claimed, now + LEASE)
    assert len(await sink_keys(db)) == 4
    async with db.session() as s:
        rows = (await s.execute(select(Followup))).scalars().all()
        assert {r.attempts for r in rows} == {2}
        assert {r.status for r in rows} == {"done"}


async def test_an_hour_of_downtime_runs_each_missed_one_once(
    db: Database, clock: FrozenClock
) -> None:
    start = clock.now()
    await add(db, 60, start, step=timedelta(minutes=1))  # one a minute for an hour
    clock.advance(hours=1, minutes=5)  # the worker was down all along
    worker = FollowupWorker(db, cfg_for(db), clock, {"test": SinkHandler("w")}, batch_size=7)
    assert await worker.run_until_idle() == 60
    assert await worker.run_until_idle() == 0
    keys = await sink_keys(db)
    assert len(keys) == len(set(keys)) == 60


async def test_quiet_hours_defer_resident_messages_unless_urgent(
    db: Database, clock: FrozenClock
) -> None:
    cfg = cfg_for(db)
    evening = datetime(2026, 11, 27, 20, 30, tzinfo=HK)
    async with db.write() as s:
        for key, urgent in (("survey-normal", False), ("survey-urgent", True)):
            await schedule(
                s,
                kind="test",
                due_at=evening,
                idempotency_key=key,
                now=evening,
                to_customer=True,
                urgent=urgent,
                settings=cfg,
            )
    clock.set(datetime(2026, 11, 27, 23, 0, tzinfo=HK))  # missed while down; now quiet
    worker = FollowupWorker(db, cfg, clock, {"test": SinkHandler("w")})
    await worker.run_until_idle()
    assert await sink_keys(db) == ["survey-urgent"]
    async with db.session() as s:
        row = (
            await s.execute(select(Followup).where(Followup.idempotency_key == "survey-normal"))
        ).scalar_one()
        assert row.status == "pending"
        assert row.due_at == datetime(2026, 11, 28, 9, 0, tzinfo=HK)
        assert row.attempts == 0
    clock.set(datetime(2026, 11, 28, 8, 59, tzinfo=HK))
    assert await worker.run_until_idle() == 0
    clock.set(datetime(2026, 11, 28, 9, 0, tzinfo=HK))
    assert await worker.run_until_idle() == 1
    assert sorted(await sink_keys(db)) == ["survey-normal", "survey-urgent"]


async def test_schedule_moves_resident_messages_out_of_quiet_hours(
    db: Database, clock: FrozenClock
) -> None:
    cfg = cfg_for(db)
    late = datetime(2026, 11, 27, 23, 0, tzinfo=HK)
    async with db.write() as s:
        row = await schedule(
            s, kind=FollowupKind.SURVEY, due_at=late, idempotency_key="s", now=late, settings=cfg
        )
        assert row.to_customer
        assert row.due_at == datetime(2026, 11, 28, 9, 0, tzinfo=HK)
        staff = await schedule(
            s,
            kind=FollowupKind.SLA_BREACH,
            due_at=late,
            idempotency_key="b",
            now=late,
            settings=cfg,
        )
        assert staff.due_at == late


async def test_failures_retry_with_backoff_then_fail(db: Database, clock: FrozenClock) -> None:
    cfg = cfg_for(db, sla={"max_attempts": 2})
    await add(db, 2, clock.now(), kind="test")
    await add(db, 1, clock.now(), kind="broken", prefix="bad")
    await add(db, 1, clock.now(), kind="unknown", prefix="unk")
    failing = FailingHandler()
    handlers: dict[str, FollowupHandler] = {"test": SinkHandler("w"), "broken": failing}
    picky = FollowupWorker(db, cfg, clock, handlers)
    await picky.run_until_idle()
    assert await statuses(db) == {"done": 2, "pending": 2}  # "unknown" is left for others
    worker = FollowupWorker(db, cfg, clock, handlers, claim_all=True)
    await worker.run_until_idle()
    # The good ones are done even though one in the same batch failed.
    assert sorted(await sink_keys(db)) == ["k0", "k1"]
    async with db.session() as s:
        bad = (await s.execute(select(Followup).where(Followup.kind == "broken"))).scalar_one()
        assert bad.status == "pending" and "boom" in (bad.last_error or "")
        assert bad.due_at == clock.now() + timedelta(seconds=30)
        unknown = (await s.execute(select(Followup).where(Followup.kind == "unknown"))).scalar_one()
        assert unknown.status == "failed" and "no handler" in (unknown.last_error or "")
    clock.advance(seconds=30)
    await worker.run_until_idle()
    async with db.session() as s:
        bad = (await s.execute(select(Followup).where(Followup.kind == "broken"))).scalar_one()
        assert bad.status == "failed" and bad.attempts == 2
    assert failing.calls == 2


async def test_one_failing_row_in_a_fast_batch_does_not_repeat_the_others(
    db: Database, clock: FrozenClock
) -> None:
    class PickyHandler(SinkHandler):
        async def handle(self, followup: Followup, session: Any) -> None:
            await super().handle(followup, session)
            if followup.idempotency_key == "k3":
                raise RuntimeError("k3 is bad")

    await add(db, 6, clock.now())
    handler = PickyHandler("w")
    await FollowupWorker(db, cfg_for(db), clock, {"test": handler}).run_until_idle()
    assert sorted(await sink_keys(db)) == ["k0", "k1", "k2", "k4", "k5"]
    assert await statuses(db) == {"done": 5, "pending": 1}


async def test_retry_later_waits_without_using_up_attempts(
    db: Database, clock: FrozenClock
) -> None:
    class Busy(SinkHandler):
        busy = True

        async def handle(self, followup: Followup, session: Any) -> None:
            if self.busy:
                raise RetryLater("customer is mid-conversation", timedelta(minutes=5))
            await super().handle(followup, session)

    await add(db, 2, clock.now())
    handler = Busy("w")
    worker = FollowupWorker(db, cfg_for(db, sla={"max_attempts": 1}), clock, {"test": handler})
    for _ in range(3):
        await worker.run_until_idle()
        clock.advance(minutes=5)
    assert await statuses(db) == {"pending": 2}
    handler.busy = False
    await worker.run_until_idle()
    assert await statuses(db) == {"done": 2}
    assert sorted(await sink_keys(db)) == ["k0", "k1"]


async def test_cancelled_while_claimed_is_not_run(db: Database, clock: FrozenClock) -> None:
    async with db.write() as s:
        ticket = await open_ticket(s, kind="repair", now=clock.now(), actor="t")
        await schedule(
            s,
            kind="test",
            due_at=clock.now(),
            idempotency_key="t1",
            now=clock.now(),
            ticket_id=ticket.id,
        )
        ticket_id = ticket.id
    worker = FollowupWorker(db, cfg_for(db), clock, {"test": SinkHandler("w")}, worker_id="w")
    claimed = await claim_due(db, "w", clock.now(), 10, LEASE)
    async with db.write() as s:
        assert await cancel_for_ticket(s, ticket_id, ["test"]) == 1
    await worker.process(claimed, clock.now())
    assert await sink_keys(db) == []
    assert await statuses(db) == {"cancelled": 1}


async def test_sla_warning_and_breach_alert_staff_once(db: Database, clock: FrozenClock) -> None:
    cfg = cfg_for(db)
    async with db.write() as s:
        ticket = await open_ticket(s, kind="inquiry", now=clock.now(), actor="t")
        await apply_deadlines(s, ticket, cfg, clock.now())
        ticket_id, due = ticket.id, ticket.due_first_response
    assert due == clock.now() + timedelta(hours=2)
    alerts = LoggingAlerts()
    worker = FollowupWorker(db, cfg, clock, sla_handlers(alerts, clock))
    clock.advance(minutes=89)
    assert await worker.run_until_idle() == 0
    clock.advance(minutes=1)  # 75 % of 2 h
    assert await worker.run_until_idle() == 1
    assert [a["title"] for a in alerts.sent] == ["deadline approaching"]
    clock.advance(minutes=30)
    await worker.run_until_idle()
    assert [a["title"] for a in alerts.sent] == ["deadline approaching", "deadline breached"]
    await worker.run_until_idle()
    assert len(alerts.sent) == 2
    async with db.session() as s:
        actions = (
            (await s.execute(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket_id)))
            .scalars()
            .all()
        )
        assert actions.count("sla_warning") == 1 and actions.count("sla_breach") == 1


async def test_met_deadline_cancels_its_alerts(db: Database, clock: FrozenClock) -> None:
    cfg = cfg_for(db)
    async with db.write() as s:
        ticket = await open_ticket(s, kind="inquiry", now=clock.now(), actor="t")
        await apply_deadlines(s, ticket, cfg, clock.now())
        ticket_id = ticket.id
    clock.advance(minutes=10)
    async with db.write() as s:
        answered = await s.get(Ticket, ticket_id)
        assert answered is not None
        answered.first_response_at = clock.now()
        await apply_deadlines(s, answered, cfg, clock.now())
    alerts = LoggingAlerts()
    clock.advance(hours=3)
    await FollowupWorker(db, cfg, clock, sla_handlers(alerts, clock)).run_until_idle()
    assert [a.get("which") for a in alerts.sent] == []


async def test_emergency_alert_goes_out_at_once(db: Database, clock: FrozenClock) -> None:
    cfg = cfg_for(db)
    clock.set(datetime(2026, 11, 27, 23, 30, tzinfo=HK))
    async with db.write() as s:
        ticket = await open_ticket(
            s, kind="repair", category="safety", priority="urgent", now=clock.now(), actor="t"
        )
        await apply_deadlines(s, ticket, cfg, clock.now())
        await apply_deadlines(s, ticket, cfg, clock.now())  # recomputing never alerts twice
    alerts = LoggingAlerts()
    await FollowupWorker(db, cfg, clock, sla_handlers(alerts, clock)).run_until_idle()
    assert [a["title"] for a in alerts.sent] == ["emergency ticket opened"]


async def test_resolution_schedules_survey_reminder_and_phone_callback(
    db: Database, clock: FrozenClock
) -> None:
    cfg = cfg_for(db)
    clock.set(datetime(2026, 11, 27, 20, 0, tzinfo=HK))
    async with db.write() as s:
        ticket = await open_ticket(
            s, kind="repair", category="water_leak", now=clock.now(), actor="t"
        )
        ticket.status = TicketStatus.RESOLVED
        ticket.resolved_at = clock.now()
        await apply_deadlines(s, ticket, cfg, clock.now())
        rows = await schedule_callback_survey(s, ticket, cfg, clock.now())
        by_kind = {r.kind: r for r in rows}
        # 20:00 + 2 h = 22:00 is quiet -> 09:00 next morning; reminder a day later.
        assert by_kind["survey"].due_at == datetime(2026, 11, 28, 9, 0, tzinfo=HK)
        assert by_kind["survey_reminder"].due_at == datetime(2026, 11, 29, 9, 0, tzinfo=HK)
        assert by_kind["phone_callback"].due_at == datetime(2026, 11, 30, 20, 0, tzinfo=HK)
        assert ticket.due_callback == datetime(2026, 11, 30, 20, 0, tzinfo=HK)
        again = await schedule_callback_survey(s, ticket, cfg, clock.now())
        assert [r.id for r in again] == [r.id for r in rows]
        assert await survey_answered(s, ticket, clock.now()) == 2


async def test_scheduler_only_wakes_the_worker(db: Database, clock: FrozenClock) -> None:
    await add(db, 3, clock.now())
    worker = FollowupWorker(db, cfg_for(db), clock, {"test": SinkHandler("w")})
    scheduler = AsyncIOScheduler()
    job = worker.attach(scheduler, timedelta(milliseconds=50))
    scheduler.start()
    try:
        assert len(scheduler.get_jobs()) == 1  # only the wake-up job, never a follow-up
        for _ in range(500):  # wait for the scheduler to wake the worker (not a deadline)
            if (await statuses(db)).get("done") == 3:
                break
            await asyncio.sleep(0.02)
    finally:
        scheduler.shutdown(wait=False)
    assert job.id.startswith("kefu-followups-")
    assert await statuses(db) == {"done": 3}
    assert len(await sink_keys(db)) == 3


async def test_follow_ups_live_and_die_with_the_ticket_transaction(
    db: Database, clock: FrozenClock
) -> None:
    cfg = cfg_for(db)

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with db.write() as s:
            ticket = await open_ticket(s, kind="complaint", now=clock.now(), actor="t")
            await apply_deadlines(s, ticket, cfg, clock.now())
            assert (await s.execute(select(func.count()).select_from(Followup))).scalar_one() > 0
            raise Abort
    assert await statuses(db) == {}


async def test_complete_only_for_the_lease_holder(db: Database, clock: FrozenClock) -> None:
    await add(db, 1, clock.now())
    [row] = await claim_due(db, "holder", clock.now(), 10, LEASE)
    async with db.write() as s:
        assert not await complete(s, row, clock.now(), worker_id="someone-else")
        assert await complete(s, row, clock.now(), worker_id="holder")
        assert not await complete(s, row, clock.now(), worker_id="holder")  # already done
    assert await statuses(db) == {"done": 1}
