"""The weekly and monthly reports to the managers' chat: durable follow-ups, one per period,
posted through the real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.clock import FrozenClock
from bot.config import Settings
from bot.followups import FollowupWorker
from bot.followups.models import Followup, FollowupStatus
from bot.reports.schedule import MANAGER_REPORT, attach_reports, ensure_scheduled, next_periods
from bot.reports.telegram import TelegramPoster, chunks
from bot.store.db import Database
from tests.fakes.bot_api import FakeBotAPI
from tests.reports.month import HK, seed

MANAGERS = -1001234


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as fake:
        fake.group(MANAGERS, "Managers")
        yield fake


@pytest.fixture
def managed(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"reports": settings.reports.model_copy(update={"managers_chat_id": MANAGERS})}
    )


def test_the_next_week_and_month_are_the_ones_just_ending(managed: Settings) -> None:
    now = datetime(2026, 11, 27, 10, 0, tzinfo=HK)  # a Friday
    weekly, monthly = next_periods(managed, now)
    assert (weekly.first, weekly.end) == (date(2026, 11, 23), date(2026, 11, 30))
    assert weekly.send_at == datetime(2026, 11, 30, 8, 30, tzinfo=HK)
    assert (monthly.first, monthly.end) == (date(2026, 11, 1), date(2026, 12, 1))
    assert monthly.send_at == datetime(2026, 12, 1, 8, 30, tzinfo=HK)
    # At the very send time the period is due now: the next one is a week later.
    assert next_periods(managed, weekly.send_at)[0].first == date(2026, 11, 30)


async def test_no_managers_chat_no_reports(db: Database, settings: Settings) -> None:
    async with db.write() as session:
        assert await ensure_scheduled(session, settings, datetime.now(HK)) == []


async def test_each_period_is_posted_once_with_charts_and_workbook(
    db: Database, managed: Settings, api: FakeBotAPI, tmp_path: Path
) -> None:
    clock = FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=HK))
    async with db.write() as session:
        await seed(session)
    bot = Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
    worker = FollowupWorker(db, managed, clock, {})
    async with bot:
        assert await attach_reports(worker, db, managed, TelegramPoster(bot))
        assert await attach_reports(worker, db, managed, TelegramPoster(bot))  # a second start
        async with db.session() as session:
            keys = (await session.execute(select(Followup.idempotency_key))).scalars().all()
        assert sorted(keys) == [
            f"{MANAGER_REPORT}:monthly:2026-11-01",
            f"{MANAGER_REPORT}:weekly:2026-11-23",
        ]
        clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=HK))  # both are due
        assert await worker.run_until_idle() == 2
        assert await worker.run_until_idle() == 0  # the next ones are not due yet
    texts = api.texts(MANAGERS)
    monthly = next(t for t in texts if t.startswith("每月服務報告"))
    assert "服務報告 2026-11-01 至 2026-11-30" in monthly
    # Sent on 1 December: C4 (due 30 November, never answered) is overdue by now.
    assert "有效投訴處理率: 50.0%" in monthly and "目標 95.0%" in monthly
    assert "首次回應: 55.6% (5/9" in monthly and "回訪: 75.0% (3/4" in monthly
    assert any(t.startswith("每週服務報告") for t in texts)
    assert len(api.calls_to("sendPhoto", chat_id=MANAGERS)) == 6  # 3 charts, twice
    assert len(api.calls_to("sendDocument", chat_id=MANAGERS)) == 2
    async with db.session() as session:
        rows = (await session.execute(select(Followup).order_by(Followup.due_at))).scalars().all()
    states = {(r.idempotency_key, r.status) for r in rows}
    assert (f"{MANAGER_REPORT}:monthly:2026-11-01", FollowupStatus.DONE) in states
    assert (f"{MANAGER_REPORT}:weekly:2026-11-23", FollowupStatus.DONE) in states
    assert (f"{MANAGER_REPORT}:weekly:2026-11-30", FollowupStatus.PENDING) in states
    assert (f"{MANAGER_REPORT}:monthly:2026-12-01", FollowupStatus.PENDING) in states


def test_long_texts_are_cut_at_line_ends() -> None:
    text = "\n".join(f"line {n:04d} " + "投" * 50 for n in range(200))
    pieces = chunks(text)
    assert all(len(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text


async def test_kefu_run_posts_the_weekly_report_when_it_is_due(
    api: FakeBotAPI, tmp_path: Path, sqlite_url: str
) -> None:
    """``serve_telegram`` (what ``kefu run`` runs), real polling against the fake Bot API: the
    next reports are scheduled at start, and the weekly one is posted once its time comes."""
    import asyncio

    from bot.config import load_settings
    from bot.run import serve_telegram
    from tests.reports.month import ROOT

    settings = load_settings(
        ROOT.parent / "config.yml",
        environ={},
        database={"url": sqlite_url},
        var_dir=str(tmp_path / "var"),
        dialogues_dir=str(ROOT),
        models_dir=str(ROOT.parent / "models"),
        telegram={"base_url": api.base_url, "poll_timeout": 1},
        reports={"managers_chat_id": MANAGERS, "monthly": False},
    )
    clock = FrozenClock(datetime(2026, 11, 30, 8, 0, tzinfo=HK))
    db = Database(sqlite_url)
    from tests.fees.support import fee

    async with db.write() as session:  # a bill half paid: the collection rate (bot/run.py)
        await fee(session, "B2|F5|RB", "2026-11", "management", "800", date(2026, 11, 10),
                  now=clock.now(), paid="400")  # fmt: skip

    async def scheduled() -> list[str]:
        async with db.session() as session:
            return list((await session.execute(select(Followup.idempotency_key))).scalars())

    stop = asyncio.Event()
    task = asyncio.create_task(serve_telegram(settings, token=api.token, clock=clock, stop=stop))
    try:
        for _ in range(300):
            if await scheduled() or task.done():
                break
            await asyncio.sleep(0.1)
        assert await scheduled() == [f"{MANAGER_REPORT}:weekly:2026-11-23"]
        assert not api.calls_to("sendDocument", chat_id=MANAGERS)
        clock.set(datetime(2026, 11, 30, 8, 31, tzinfo=HK))
        await api.until(lambda: bool(api.calls_to("sendDocument", chat_id=MANAGERS)), 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        keys = await scheduled()
        await db.dispose()
    [weekly] = [t for t in api.texts(MANAGERS) if t.startswith("每週服務報告")]
    assert "2026-11 | 全屋苑 | 1 | 800.00 | 400.00 | 50.0%" in weekly
    assert len(api.calls_to("sendPhoto", chat_id=MANAGERS)) == 3
    assert f"{MANAGER_REPORT}:weekly:2026-11-30" in keys  # the next one
