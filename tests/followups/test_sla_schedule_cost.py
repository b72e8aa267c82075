"""A new ticket's SLA follow-ups cost one statement, not an insert and a read-back each
(issue 12 item 7: that was ~15 % of the CPU of repair traffic), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from bot.clock import FrozenClock
from bot.config import load_settings
from bot.followups import Followup
from bot.followups.deadlines import apply_deadlines
from bot.store.db import Database
from bot.tickets import open_ticket


async def test_a_new_tickets_alerts_are_one_insert(db: Database, clock: FrozenClock) -> None:
    cfg = load_settings(environ={}, database={"url": db.url})
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(" ".join(sql.split()).lower())

    async with db.write() as s:
        ticket = await open_ticket(s, kind="complaint", now=clock.now(), actor="t")
        await s.flush()
        event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        try:
            await apply_deadlines(s, ticket, cfg, clock.now())
            await s.flush()
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        ticket_id = ticket.id
    on_followups = [q for q in statements if "followups" in q]
    assert len(on_followups) == 1 and on_followups[0].startswith("insert"), on_followups
    async with db.session() as s:
        kinds = sorted(
            (await s.execute(select(Followup.kind).where(Followup.ticket_id == ticket_id)))
            .scalars()
            .all()
        )
    assert kinds == ["sla_breach", "sla_warning"]  # 72 h reply and 3 d resolution fall together


async def test_rescheduling_keeps_rows_current(db: Database, clock: FrozenClock) -> None:
    """A second application (the ticket changed) still cancels moved instants and revives."""
    cfg = load_settings(environ={}, database={"url": db.url})
    async with db.write() as s:
        ticket = await open_ticket(
            s, kind="repair", category="electrical", now=clock.now(), actor="t"
        )
        await apply_deadlines(s, ticket, cfg, clock.now())
        ticket.priority = "urgent"
        await apply_deadlines(s, ticket, cfg, clock.now())
        ticket.priority = "normal"
        await apply_deadlines(s, ticket, cfg, clock.now())
        ticket_id = ticket.id
    async with db.session() as s:
        rows = (
            (await s.execute(select(Followup).where(Followup.ticket_id == ticket_id)))
            .scalars()
            .all()
        )
    sla = [r for r in rows if r.kind.startswith("sla_")]
    pending = sorted((r.kind, r.payload["which"]) for r in sla if r.status == "pending")
    assert pending == [
        ("sla_breach", "first_response"),
        ("sla_breach", "resolution"),
        ("sla_warning", "first_response"),
        ("sla_warning", "resolution"),
    ]
    assert any(r.status == "cancelled" for r in sla)  # the urgent instants
