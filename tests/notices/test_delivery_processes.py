"""Notices through real ``kefu run`` processes against the fake Bot API (issue 15): each
recipient exactly once across a graceful restart, a killed worker and two workers; Telegram's
30/s ceiling kept with a 429 on the way; blocked, opted-out and unlinked residents reported;
ordinary notices wait out quiet hours while urgent ones do not."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select

from bot.config import Settings
from bot.notices.deliveries import Delivery, DeliveryStatus
from bot.notices.service import NoticeDraft, create_notice, notice_report
from bot.store.db import Database, sync_url
from tests.fakes.bot_api import FakeBotAPI
from tests.notices.seed import opt_out_chat, seed_residents
from tests.telegram.processes import KefuRun, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.process]

FAST = {"KEFU_SLA__POLL_INTERVAL": "0.2s", "KEFU_NOTICES__POLL_INTERVAL": "0.2s"}


async def new_notice(url: str, *, urgent: bool = False, **audience: Any) -> int:
    """Create a notice to send now, as ``kefu notices create`` does."""
    db = Database(url)
    try:
        async with db.write() as session:
            notice = await create_notice(
                session,
                NoticeDraft(
                    title={"zh-Hant": "停水通知", "en": "Water cut"},
                    body={"zh-Hant": "今日下午二時至四時停水。"},
                    audience=audience or {"residents": "all"},
                    kind="urgent" if urgent else "ordinary",
                ),
                now=datetime.now(UTC),
                settings=Settings(),
            )
            return notice.id
    finally:
        await db.dispose()


async def report(url: str, notice_id: int) -> Counter[str]:
    db = Database(url)
    try:
        async with db.session() as session:
            return (await notice_report(session, notice_id)).counts
    finally:
        await db.dispose()


_ENGINES: dict[str, Engine] = {}


def statuses(url: str) -> Counter[str]:
    """Deliveries by status, all notices together."""
    engine = _ENGINES.get(url) or _ENGINES.setdefault(url, create_engine(sync_url(url)))
    with engine.connect() as conn:
        rows = conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return Counter({status: n for status, n in rows})


async def eventually(predicate: Callable[[], bool], timeout: float) -> None:
    """Poll a predicate on the database (the fake server cannot see it) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {statuses_seen()}")
        await asyncio.sleep(0.2)


def statuses_seen() -> dict[str, Counter[str]]:
    return {url.rsplit("/", 1)[-1]: statuses(url) for url in _ENGINES}


def per_chat(api: FakeBotAPI, chats: list[int]) -> Counter[int]:
    return Counter({chat: api.sent_count(chat) for chat in chats})


def busiest_second(api: FakeBotAPI, chats: list[int]) -> int:
    """The most messages sent within any one second."""
    times = sorted(t for chat in chats for t in api.sent_times(chat))
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_hundreds_paced_within_30_per_second_each_once(
    fake_api: FakeBotAPI, fresh_pg: str, tmp_path: Path
) -> None:
    """250 recipients: over eight seconds of 30/s pacing windows, enough to see the ceiling
    kept second after second and everyone reached once. It was 1,000 (33 s of pacing by
    construction, 44 s of wall time) and proved nothing more; the scale is what
    ``bench/notices.py`` measures (10,000 by default, against the N / rate limit)."""
    recipients = 250
    chats = seed_residents(fresh_pg, recipients)
    unlinked = seed_residents(fresh_pg, 2, first_chat=900_000, linked=False)
    blocked, opted = chats[10], chats[20]
    fake_api.block(blocked)
    opt_out_chat(fresh_pg, opted)
    notice_id = await new_notice(fresh_pg)
    run = KefuRun(fake_api, fresh_pg, tmp_path, **FAST)
    reached = recipients - 2
    try:
        expected = [c for c in chats if c not in (blocked, opted)]
        await fake_api.until(lambda: sum(per_chat(fake_api, expected).values()) >= reached, 150)
        await eventually(lambda: statuses(fresh_pg)[DeliveryStatus.SENT] == reached, 20)
    finally:
        assert run.stop() == 0, run.log()
    sent = per_chat(fake_api, chats)
    assert {chat: n for chat, n in sent.items() if n != 1} == {blocked: 0, opted: 0}
    # Evenly paced at 30/s: a second holds 30, a few more where a busy machine (2 shared
    # cores, other tests beside) delays some requests into the next one; never anywhere near
    # the bucket's burst of 60.
    assert busiest_second(fake_api, chats) <= 42
    times = sorted(t for chat in chats for t in fake_api.sent_times(chat))
    assert (len(times) - 1) / (times[-1] - times[0]) <= 30.3
    counts = await report(fresh_pg, notice_id)
    assert counts == {
        DeliveryStatus.SENT: reached,
        DeliveryStatus.UNREACHABLE: 1,
        DeliveryStatus.OPTED_OUT: 1,
        DeliveryStatus.NO_CHAT: len(unlinked),
    }
    # In the reader's language, the office's where the notice has none (zh-Hans here).
    assert fake_api.texts(chats[1])[0].startswith("📢 Notice from the management office: Water")
    assert "今日下午二時至四時停水" in fake_api.texts(chats[2])[0]


async def test_a_restart_and_a_killed_worker_never_send_twice(
    fake_api: FakeBotAPI, fresh_pg: str, tmp_path: Path
) -> None:
    # 200: each of the three runs still sends for seconds (pacing is the test above's).
    chats = seed_residents(fresh_pg, 200)
    env = {**FAST, "KEFU_NOTICES__LEASE": "2s"}
    await new_notice(fresh_pg)
    fake_api.fail("sendMessage", 429, retry_after=1)  # one flood answer on the way
    run = KefuRun(fake_api, fresh_pg, tmp_path, **env)
    try:
        await fake_api.until(lambda: sum(per_chat(fake_api, chats).values()) >= 40, 90)
    finally:
        assert run.stop() == 0, run.log()  # SIGTERM: the sends in flight are recorded
    after_stop = sum(per_chat(fake_api, chats).values())
    assert statuses(fresh_pg)[DeliveryStatus.SENT] == after_stop
    assert statuses(fresh_pg)[DeliveryStatus.SENDING] == 0
    run = KefuRun(fake_api, fresh_pg, tmp_path, **env)
    try:
        await fake_api.until(lambda: sum(per_chat(fake_api, chats).values()) >= 100, 90)
    finally:
        run.kill()  # SIGKILL: requests in flight are lost with their answers
    run = KefuRun(fake_api, fresh_pg, tmp_path, **env)
    try:
        open_rows = {"pending", "claimed", "sending"}
        await eventually(lambda: not +statuses(fresh_pg) & Counter(dict.fromkeys(open_rows, 1)), 90)
    finally:
        assert run.stop() == 0, run.log()
    sent = per_chat(fake_api, chats)
    assert max(sent.values()) == 1  # nobody twice
    final = statuses(fresh_pg)
    assert final[DeliveryStatus.SENT] + final[DeliveryStatus.UNCONFIRMED] == 200
    missing = {chat for chat, n in sent.items() if n == 0}
    assert len(missing) <= final[DeliveryStatus.UNCONFIRMED]  # only what may have been in flight


async def test_two_workers_share_a_notice_each_recipient_once(
    fake_api: FakeBotAPI, fresh_pg: str, tmp_path: Path
) -> None:
    chats = seed_residents(fresh_pg, 400)  # 27 s for one alone at 15/s: both start in time
    await new_notice(fresh_pg, urgent=True)
    env = {
        **FAST,
        "KEFU_TELEGRAM__MODE": "webhook",
        "KEFU_TELEGRAM__WEBHOOK__LISTEN": "127.0.0.1",
        "KEFU_TELEGRAM__WEBHOOK__PATH": "/hook",
        "KEFU_TELEGRAM__RATE_LIMIT__PER_SECOND": "15",  # 30/s shared by two workers
        "TELEGRAM_WEBHOOK_SECRET": "notices-secret",
    }
    runs = []
    for n in range(2):
        (tmp_path / str(n)).mkdir()
        port = str(free_port())
        runs.append(
            KefuRun(fake_api, fresh_pg, tmp_path / str(n), KEFU_TELEGRAM__WEBHOOK__PORT=port, **env)
        )
    try:
        await eventually(lambda: statuses(fresh_pg)[DeliveryStatus.SENT] == 400, 120)
    finally:
        for run in runs:
            assert run.stop() == 0, run.log()
    assert set(per_chat(fake_api, chats).values()) == {1}
    assert all("campaign messages" in run.log() for run in runs)  # both took a share
    # Two even 15/s paces: the same tolerance as one worker's 30/s for requests a busy machine
    # delays into the next second (34 failed under load, on main as well), and on average
    # never more than the shared 30/s.
    assert busiest_second(fake_api, chats) <= 42
    times = sorted(t for chat in chats for t in fake_api.sent_times(chat))
    assert (len(times) - 1) / (times[-1] - times[0]) <= 30.3


async def test_ordinary_notices_wait_out_quiet_hours_urgent_ones_do_not(
    fake_api: FakeBotAPI, fresh_pg: str, tmp_path: Path
) -> None:
    chats = seed_residents(fresh_pg, 5)
    ordinary = await new_notice(fresh_pg)
    urgent = await new_notice(fresh_pg, urgent=True)
    run = KefuRun(fake_api, fresh_pg, tmp_path, KEFU_SLA__QUIET_HOURS="00:00-23:59", **FAST)
    try:
        await eventually(lambda: statuses(fresh_pg)[DeliveryStatus.SENT] == 5, 60)
        # Both notices were expanded in one follow-up round; the ordinary one still waits.
        assert (await report(fresh_pg, ordinary)) == {DeliveryStatus.PENDING: 5}
    finally:
        assert run.stop() == 0, run.log()
    assert (await report(fresh_pg, urgent)) == {DeliveryStatus.SENT: 5}
    assert all(fake_api.texts(chat)[0].startswith("⚠️") for chat in chats)
    assert set(per_chat(fake_api, chats).values()) == {1}
