"""The quarterly sample: at least the share of every building, none asked in the previous
three quarters, reproducible from the stored seed; over four simulated quarters and a fifth,
through the real worker and store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.evaluation.campaign import households, recently_asked
from bot.evaluation.models import EvaluationCampaign, EvaluationTarget
from bot.evaluation.quarters import send_time, shift
from bot.evaluation.sampling import sample
from bot.followups import FollowupWorker
from tests.fees.support import household

# Each building can go a year without asking anyone twice (4 x ceil(20 %) <= households).
BUILDINGS = {"1": 20, "2": 17, "3": 12}


def test_sample_is_stratified_excludes_recent_and_is_reproducible() -> None:
    homes = {f"B{b}|U|F1|R{i}": b for b, n in BUILDINGS.items() for i in range(n)}
    first = sample(homes, set(), 0.2, seed=7)
    assert first.units == sample(homes, set(), 0.2, seed=7).units
    assert first.units != sample(homes, set(), 0.2, seed=8).units
    assert first.wanted == {b: math.ceil(0.2 * n) for b, n in BUILDINGS.items()}
    again = sample(homes, set(first.units), 0.2, seed=7)
    assert not set(again.units) & set(first.units)
    # Building 1 has 3 households left (4 wanted): the others make up the whole's share.
    recent = {u for u in homes if homes[u] == "1"} - set(list(homes)[:3])
    few = sample(homes, recent, 0.2, seed=1)
    assert few.shortfall == {"1": 1}
    assert set(list(homes)[:3]) <= set(few.units)
    assert len(few.units) >= 0.2 * len(homes)


async def drain(worker: FollowupWorker) -> None:
    while await worker.run_until_idle():
        pass


async def test_four_quarters_never_repeat_within_a_year_and_cover_a_fifth(
    app: App, clock: FrozenClock
) -> None:
    now = clock.now()
    async with app.db.write() as s:
        n = 0
        for building, count in BUILDINGS.items():
            for i in range(count):
                n += 1
                await household(
                    s,
                    f"{building}座{100 + i}室",
                    now=now,
                    phone=f"+8529200{n:04d}",
                    chat_id=f"h{n}" if n % 2 else None,
                )
    worker = app.followup_worker()
    quarters = ["2027Q1", "2027Q2", "2027Q3", "2027Q4", "2028Q1"]
    asked: dict[str, set[str]] = {}
    for quarter in quarters:
        clock.set(send_time(quarter, app.settings))
        await drain(worker)
        async with app.db.session() as s:
            campaign = await s.scalar(
                select(EvaluationCampaign).where(EvaluationCampaign.quarter == quarter)
            )
            assert campaign is not None, quarter
            targets = (
                await s.scalars(
                    select(EvaluationTarget).where(EvaluationTarget.campaign_id == campaign.id)
                )
            ).all()
            homes = await households(s)
            recent = await recently_asked(s, quarter, 3)
        asked[quarter] = {t.unit_key for t in targets}
        per_building = {b: sum(1 for t in targets if t.building == b) for b in BUILDINGS}
        for building, count in BUILDINGS.items():
            assert per_building[building] >= 0.2 * count, (quarter, per_building)
        assert len(targets) >= 0.2 * sum(BUILDINGS.values())
        # Reproducible: the stored seed draws the same households again.
        redraw = sample(
            {u: b for u, (b, _, _) in homes.items()}, recent, campaign.share, campaign.seed
        )
        assert set(redraw.units) == asked[quarter]
        assert {t.status for t in targets} <= {"asked", "phone"}
        assert campaign.sent_at == send_time(quarter, app.settings)
    for i, quarter in enumerate(quarters):
        for earlier in quarters[max(0, i - 3) : i]:
            assert not asked[quarter] & asked[earlier], (quarter, earlier)
    assert shift("2028Q1", -4) == "2027Q1"


async def test_two_workers_start_one_campaign(app: App, clock: FrozenClock) -> None:
    now = clock.now()
    async with app.db.write() as s:
        for i in range(10):
            await household(
                s, f"6座{200 + i}室", now=now, phone=f"+8529300{i:04d}", chat_id=f"t{i}"
            )
    clock.set(send_time("2026Q4", app.settings))
    first, second = app.followup_worker(), app.followup_worker()
    while sum(await asyncio.gather(first.run_until_idle(), second.run_until_idle())):
        pass
    async with app.db.session() as s:
        campaigns = (await s.scalars(select(EvaluationCampaign))).all()
        targets = (await s.scalars(select(EvaluationTarget))).all()
    assert [c.quarter for c in campaigns] == ["2026Q4"]
    assert len(targets) == 2 and {t.status for t in targets} == {"asked"}
    assert isinstance(campaigns[0].sent_at, datetime)
