"""Resolve/reopen with their SLA consequences, and the tickets/sla/followups commands."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.clock import FrozenClock
from bot.config import load_settings
from bot.followups.cli import followups_app
from bot.followups.deadlines import apply_deadlines
from bot.followups.models import Followup, FollowupStatus
from bot.followups.service import list_followups
from bot.followups.sla import SURVEY_KINDS, LoggingAlerts, sla_handlers, start_rework
from bot.followups.worker import FollowupWorker
from bot.sla.cli import sla_app
from bot.sla.explain import explain_sla
from bot.store.db import Database
from bot.store.models import Ticket, TicketEvent
from bot.tickets import open_ticket
from bot.tickets.cli import tickets_app
from bot.tickets.lifecycle import reopen_ticket, resolve_ticket

HK = ZoneInfo("Asia/Hong_Kong")


async def test_resolve_schedules_survey_and_reopen_stops_the_phone_task(
    db: Database, clock: FrozenClock
) -> None:
    cfg = load_settings(environ={}, database={"url": db.url})
    async with db.write() as s:
        ticket = await open_ticket(
            s, kind="repair", category="safety", now=clock.now(), actor="user:1", language="en"
        )
        await apply_deadlines(s, ticket, cfg, clock.now())
        ticket_id = ticket.id
    clock.advance(hours=3)  # resolved Friday 13:00
    async with db.write() as s:
        ticket = await s.get_one(Ticket, ticket_id)
        await resolve_ticket(s, ticket, settings=cfg, now=clock.now(), actor="agent:1")
        assert ticket.due_callback == clock.now() + timedelta(days=2)
        scheduled = await list_followups(s, ticket_id=ticket_id, kinds=SURVEY_KINDS)
        survey = next(f for f in scheduled if f.kind == "survey")
        assert survey.due_at == clock.now() + timedelta(hours=2)  # 15:00, not quiet
        assert survey.due_at < ticket.due_callback
        text = explain_sla(ticket, scheduled, cfg, clock.now())
        assert "call-back within 2d" in text and "repair-safety" in text and "survey" in text
    clock.advance(hours=1)
    async with db.write() as s:
        ticket = await s.get_one(Ticket, ticket_id)
        await reopen_ticket(
            s, ticket, settings=cfg, now=clock.now(), actor="agent:1", reason="still broken"
        )
        due = await start_rework(s, ticket, cfg, clock.now(), actor="agent:1")
        assert due == clock.now() + timedelta(hours=24)
        assert ticket.due_callback is None and ticket.status == "open"
    # The phone call-back task of the earlier resolution no longer alerts anyone; the rework
    # deadline does.
    alerts = LoggingAlerts()
    clock.advance(days=3)
    await FollowupWorker(db, cfg, clock, sla_handlers(alerts, clock)).run_until_idle()
    titles = [a["title"] for a in alerts.sent]
    assert "rework deadline reached" in titles
    assert not any("call the resident" in t for t in titles)
    async with db.session() as s:
        actions = (
            (await s.execute(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket_id)))
            .scalars()
            .all()
        )
        assert {"resolved", "reopened", "rework_ordered", "rework_deadline"} <= set(actions)


# The commands read the system clock; these tests move it to a working morning (it still runs)
# so that their deadlines, warnings and quiet hours do not depend on when the suite runs.
CLI_NOW = datetime(2026, 11, 25, 10, 0, tzinfo=HK)  # a Wednesday


class _MorningClock:
    started = time.monotonic()

    def __init__(self, tz: object = None) -> None:
        pass

    def now(self) -> datetime:
        return CLI_NOW + timedelta(seconds=time.monotonic() - self.started)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Path:
    monkeypatch.setattr("bot.clitools.SystemClock", _MorningClock)
    monkeypatch.setattr("bot.followups.cli.SystemClock", _MorningClock)
    url = sqlite_url  # migrated already: a copy of the run's template
    path = tmp_path / "config.yml"
    root = Path(__file__).resolve().parents[2]  # `followups work` builds the whole app
    path.write_text(
        f"database:\n  url: {url}\ndialogues_dir: {root / 'dialogues'}\n"
        f"models_dir: {root / 'models'}\n",
        encoding="utf-8",
    )
    return path


def _open(config_file: Path, **kw: object) -> str:
    settings = load_settings(config_file, environ={})

    async def go() -> str:
        db = Database(settings.database.url)
        await asyncio.to_thread(db.upgrade)
        now = _MorningClock().now()
        async with db.write() as s:
            t = await open_ticket(s, now=now, actor="test", **kw)  # type: ignore[arg-type]
            await apply_deadlines(s, t, settings, now)
            number = t.number
        await db.dispose()
        return number

    return asyncio.run(go())


def test_cli_resolve_show_reopen_and_list(config_file: Path) -> None:
    number = _open(config_file, kind="repair", category="water_leak", contact_phone="+85291234567")
    runner = CliRunner()
    cfg = ["--config", str(config_file)]

    result = runner.invoke(tickets_app, ["list", *cfg])
    assert result.exit_code == 0, result.output
    assert number in result.output and "first response" in result.output

    result = runner.invoke(tickets_app, ["resolve", number, "--note", "washer replaced", *cfg])
    assert result.exit_code == 0, result.output
    assert "call-back due by" in result.output and "scheduled survey" in result.output

    result = runner.invoke(sla_app, ["show", number, *cfg])
    assert result.exit_code == 0, result.output
    assert "repair-water-leak" in result.output and "call-back within 3d" in result.output

    result = runner.invoke(tickets_app, ["show", number, *cfg])
    assert result.exit_code == 0, result.output
    assert "91234567" not in result.output  # phone masked
    assert "resolved" in result.output

    result = runner.invoke(followups_app, ["list", "--ticket", number, *cfg])
    assert result.exit_code == 0, result.output
    assert "survey" in result.output and "phone_callback" in result.output

    result = runner.invoke(tickets_app, ["reopen", number, "--reason", "leaks again", *cfg])
    assert result.exit_code == 0, result.output
    result = runner.invoke(tickets_app, ["show", number, *cfg])
    assert "reopened" in result.output and "status open" in result.output


def test_cli_errors_are_one_line(config_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(sla_app, ["show", "R-19990101-0001", "--config", str(config_file)])
    assert result.exit_code == 1
    assert "no ticket R-19990101-0001" in result.output
    assert "Traceback" not in result.output
    number = _open(config_file, kind="complaint", category="noise")
    result = runner.invoke(tickets_app, ["reopen", number, "--config", str(config_file)])
    assert result.exit_code == 1 and "already open" in result.output


def test_cli_pause_resume_and_worker_once(config_file: Path) -> None:
    number = _open(config_file, kind="inquiry")
    runner = CliRunner()
    cfg = ["--config", str(config_file)]
    assert "paused" in runner.invoke(sla_app, ["pause", number, *cfg]).output
    assert "paused" in runner.invoke(sla_app, ["show", number, *cfg]).output
    assert "resumed" in runner.invoke(sla_app, ["resume", number, *cfg]).output
    result = runner.invoke(followups_app, ["work", "--once", *cfg])
    assert result.exit_code == 0, result.output
    assert "follow-ups run" in result.output

    async def finished_of_the_ticket() -> int:
        settings = load_settings(config_file, environ={})
        db = Database(settings.database.url)
        try:
            async with db.session() as session:
                rows = await session.scalars(
                    select(Followup).where(
                        Followup.ticket_id.isnot(None), Followup.status != FollowupStatus.PENDING
                    )
                )
                return len(list(rows))
        finally:
            await db.dispose()

    # the warnings and breaches of both deadlines, cancelled by the pause (the worker's daily
    # runs, fee reminders and the owner evaluation, may add finished rows of their own)
    assert asyncio.run(finished_of_the_ticket()) == 4
    result = runner.invoke(followups_app, ["prune", "--older-than", "0s", *cfg])
    assert result.exit_code == 0, result.output
    assert "finished follow-ups deleted" in result.output
    assert asyncio.run(finished_of_the_ticket()) == 0
    result = runner.invoke(followups_app, ["prune", "--older-than", "soon", *cfg])
    assert result.exit_code == 2 and "not a duration" in result.output


def test_explain_shows_breach() -> None:
    cfg = load_settings(environ={})

    created = datetime(2026, 11, 27, 10, 0, tzinfo=HK)
    ticket = Ticket(
        number="Q-20261127-0001",
        kind="inquiry",
        category=None,
        priority="normal",
        status="open",
        created_at=created,
        sla={},
    )
    text = explain_sla(ticket, [], cfg, created + timedelta(hours=5))
    assert "BREACHED 3h ago" in text
