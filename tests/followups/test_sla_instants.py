"""One SLA alert per instant per ticket: deadlines that fall together are alerted together
(issue 11 item 11), on real SQLite and PostgreSQL with the injected clock."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import delete, select, text

from bot.clock import FrozenClock
from bot.config import load_settings
from bot.followups import Followup, FollowupKind, FollowupStatus, FollowupWorker
from bot.followups.deadlines import apply_deadlines
from bot.followups.sla import LoggingAlerts, sla_handlers
from bot.store.db import Database
from bot.store.models import Ticket, TicketEvent
from bot.tickets import open_ticket


async def _complaint(db: Database, clock: FrozenClock) -> int:
    cfg = load_settings(environ={}, database={"url": db.url})
    async with db.write() as s:
        await s.execute(text("DELETE FROM followups"))
        ticket = await open_ticket(s, kind="complaint", now=clock.now(), actor="t")
        await apply_deadlines(s, ticket, cfg, clock.now())
        assert ticket.due_first_response == ticket.due_resolution  # 72 h and 3 d
        return ticket.id


async def _actions(db: Database, ticket_id: int) -> list[str]:
    async with db.session() as s:
        rows = await s.execute(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket_id))
        return list(rows.scalars())


async def test_a_complaint_gets_one_warning_and_one_breach_naming_both(
    db: Database, clock: FrozenClock
) -> None:
    cfg = load_settings(environ={}, database={"url": db.url})
    ticket_id = await _complaint(db, clock)
    alerts = LoggingAlerts()
    worker = FollowupWorker(db, cfg, clock, sla_handlers(alerts, clock))
    clock.advance(hours=54)  # 75 % of 72 h: both deadlines' warning point
    await worker.run_until_idle()
    assert [a["title"] for a in alerts.sent] == [
        "deadline approaching: first response + resolution"
    ]
    clock.advance(hours=18)
    await worker.run_until_idle()
    await worker.run_until_idle()
    assert [a["title"] for a in alerts.sent][1:] == [
        "deadline breached: first response + resolution"
    ]
    assert [d["which"] for d in alerts.sent[1]["deadlines"]] == ["first_response", "resolution"]
    actions = await _actions(db, ticket_id)
    assert actions.count("sla_warning") == 1 and actions.count("sla_breach") == 1


async def test_a_deadline_met_after_the_shared_warning_is_not_warned_again(
    db: Database, clock: FrozenClock
) -> None:
    """The warning named both; the reply arrives later: the resolution is not warned twice,
    and its breach names the resolution alone."""
    cfg = load_settings(environ={}, database={"url": db.url})
    ticket_id = await _complaint(db, clock)
    alerts = LoggingAlerts()
    worker = FollowupWorker(db, cfg, clock, sla_handlers(alerts, clock))
    clock.advance(hours=60)
    await worker.run_until_idle()
    async with db.write() as s:
        ticket = await s.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.first_response_at = clock.now()
        await apply_deadlines(s, ticket, cfg, clock.now())
    await worker.run_until_idle()
    clock.advance(timedelta(hours=12))
    await worker.run_until_idle()
    assert [a["title"] for a in alerts.sent] == [
        "deadline approaching: first response + resolution",
        "deadline breached",
    ]
    assert alerts.sent[1]["which"] == "resolution"


async def test_warnings_sent_before_alerts_were_merged_are_not_sent_again(
    db: Database, clock: FrozenClock
) -> None:
    """A database from before: each deadline's warning was its own (done) follow-up with its
    own key. Recomputing the deadlines later schedules no second warning."""
    cfg = load_settings(environ={}, database={"url": db.url})
    ticket_id = await _complaint(db, clock)
    async with db.write() as s:
        ticket = await s.get(Ticket, ticket_id)
        assert ticket is not None and ticket.due_first_response is not None
        due = ticket.due_first_response.astimezone(UTC).isoformat()
        await s.execute(
            delete(Followup).where(
                Followup.ticket_id == ticket_id, Followup.kind == FollowupKind.SLA_WARNING
            )
        )
        for which in ("first_response", "resolution"):
            s.add(
                Followup(
                    kind=FollowupKind.SLA_WARNING,
                    ticket_id=ticket_id,
                    due_at=clock.now() + timedelta(hours=54),
                    status=FollowupStatus.DONE,
                    idempotency_key=f"sla_warning:{ticket_id}:{which}:0.75:{due}",
                    payload={"which": which, "due": due, "fraction": 0.75},
                    created_at=clock.now(),
                )
            )
    clock.advance(hours=60)
    async with db.write() as s:
        ticket = await s.get(Ticket, ticket_id)
        assert ticket is not None
        await apply_deadlines(s, ticket, cfg, clock.now())
    alerts = LoggingAlerts()
    worker = FollowupWorker(db, cfg, clock, sla_handlers(alerts, clock))
    await worker.run_until_idle()
    clock.advance(hours=12)
    await worker.run_until_idle()
    assert [a["title"] for a in alerts.sent] == ["deadline breached: first response + resolution"]
