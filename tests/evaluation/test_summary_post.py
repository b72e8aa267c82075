"""The owner evaluation's summary reaches the managers' chat (issue #15): scheduled when the
campaign closes, posted once on ``evaluation.summary_day`` of the month after the quarter
by the real worker through the real python-telegram-bot and the fake Bot API, with the
response rate, the score per area and building against the previous quarter and the
comments (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.app import App
from bot.clock import FrozenClock
from bot.evaluation.campaign import start_campaign
from bot.evaluation.models import EvaluationTarget
from bot.evaluation.report import (
    SUMMARY_KIND,
    attach_evaluation_summary,
    render_summary,
    summary_time,
)
from bot.followups.models import Followup, FollowupStatus
from bot.reports.labels import Labels
from bot.reports.telegram import TelegramPoster
from tests.fakes.bot_api import FakeBotAPI
from tests.fees.support import household

ROOT = Path(__file__).resolve().parents[2]
MANAGERS = -1005555


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as fake:
        fake.group(MANAGERS, "Managers")
        yield fake


def test_the_summary_is_due_on_summary_day_of_the_next_month(app: App) -> None:
    tz = app.settings.tz
    app.settings.evaluation.summary_day = 5
    assert summary_time("2026Q4", app.settings) == datetime(2027, 1, 5, 8, 30, tzinfo=tz)
    assert summary_time("2027Q1", app.settings) == datetime(2027, 4, 5, 8, 30, tzinfo=tz)


async def _campaigns(app: App, now: datetime) -> int:
    """Last quarter's campaign (all 4s, closed) and this quarter's, whose first household
    answered 5s but 1 for customer service, with a comment; returns this one's id."""
    app.settings.evaluation.share = 1.0
    app.settings.evaluation.repeat_quarters = 0
    async with app.db.write() as s:
        await household(s, "3座1201室", now=now, phone="+85294000001", chat_id=None)
        await household(s, "5座0801室", now=now, phone="+85294000002", chat_id=None)
        previous = await start_campaign(
            s, "2026Q3", settings=app.settings, now=now - timedelta(days=90), seed=1
        )
        for target in await s.scalars(
            select(EvaluationTarget).where(EvaluationTarget.campaign_id == previous.id)
        ):
            target.status, target.scores = "answered", {a: 4 for a in previous.areas}
        previous.closed_at, previous.summary = now - timedelta(days=60), {}
        campaign = await start_campaign(s, "2026Q4", settings=app.settings, now=now, seed=7)
        first = await s.scalar(
            select(EvaluationTarget)
            .where(EvaluationTarget.campaign_id == campaign.id)
            .order_by(EvaluationTarget.unit_key)
        )
        assert first is not None
        first.status = "answered"
        first.scores = {a: 5 for a in campaign.areas} | {"customer_service": 1}
        first.comment = "管理處職員態度好差"
        return campaign.id


async def test_posted_once_after_the_quarter(app: App, clock: FrozenClock, api: FakeBotAPI) -> None:
    app.settings.reports.managers_chat_id = MANAGERS
    app.settings.reports.language = "zh-Hant"
    campaign_id = await _campaigns(app, clock.now())
    worker = app.followup_worker()
    bot = Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
    async with bot:
        assert await attach_evaluation_summary(worker, app.db, app.settings, TelegramPoster(bot))
        clock.advance(days=16)  # the campaign closes (open_for: 15 days)
        while await worker.run_until_idle():
            pass
        async with app.db.session() as s:
            [row] = (await s.scalars(select(Followup).where(Followup.kind == SUMMARY_KIND))).all()
        assert row.idempotency_key == f"{SUMMARY_KIND}:{campaign_id}"
        assert row.due_at == datetime(2027, 1, 5, 8, 30, tzinfo=app.settings.tz)
        assert api.texts(MANAGERS) == []  # not before summary_day

        # A restart schedules nothing twice.
        assert await attach_evaluation_summary(worker, app.db, app.settings, TelegramPoster(bot))
        clock.set(datetime(2027, 1, 5, 8, 31, tzinfo=app.settings.tz))
        while await worker.run_until_idle():
            pass
        assert await worker.run_until_idle() == 0
    [text] = api.texts(MANAGERS)
    assert text.startswith("業主評議 2026Q4 匯總")
    assert "抽樣 2（對話 0，電話 2）；回覆 1（回覆率 50.0%）" in text
    assert "括號內為與 2026Q3 比較" in text
    assert "  客戶服務: 1.00 (-3.00)" in text and "  保安服務: 5.00 (+1.00)" in text
    assert "3座: 保安服務 5.00" in text, text
    assert "（1-5" not in text.split("比較:", 1)[1]  # the areas' names without the scale
    assert "低分 1 項（2 分或以下，已開跟進工單）:\n  3座1201室: 客戶服務 1" in text
    assert "管理處職員態度好差" in text
    assert "kefu evaluation summary 2026Q4" in text
    async with app.db.session() as s:
        posted = await s.scalar(select(Followup).where(Followup.kind == SUMMARY_KIND))
        assert posted is not None and posted.status == FollowupStatus.DONE


async def test_no_managers_chat_nothing_scheduled(app: App, clock: FrozenClock) -> None:
    app.settings.reports.managers_chat_id = None
    await _campaigns(app, clock.now())
    worker = app.followup_worker()
    assert not await attach_evaluation_summary(worker, app.db, app.settings, TelegramPoster(None))  # type: ignore[arg-type]
    clock.advance(days=16)
    while await worker.run_until_idle():
        pass
    async with app.db.session() as s:
        assert (await s.scalars(select(Followup).where(Followup.kind == SUMMARY_KIND))).all() == []


@pytest.mark.parametrize("language", ["zh-Hans", "en"])
def test_every_language_has_the_words(language: str) -> None:
    labels = Labels.load(ROOT / "dialogues", language)
    summary = {
        "quarter": "2026Q4", "households": 10, "sampled": 4, "by_chat": 3, "by_phone": 1,
        "answered": 2, "response_rate": 0.5, "areas": {"security": 4.5}, "previous": {},
        "buildings": {"3": {"security": 4.5}}, "low": [], "comments": [],
    }  # fmt: skip
    text = render_summary(summary, labels, 2)
    assert "{" not in text and "evaluation_" not in text
    if language == "en":
        assert "Owner evaluation 2026Q4: summary" in text and "  Security: 4.50" in text
        assert "Block 3: Security 4.50" in text
