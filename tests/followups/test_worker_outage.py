"""`kefu followups work` through a real database outage (issue 11 item 8): the worker keeps
running, logs no traceback, and the store says once that it went away and once it is back."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from followup_sink import SINK_DDL, SinkHandler
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.clock import FrozenClock
from bot.config import load_settings
from bot.followups import FollowupWorker
from bot.store.db import Database
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Hong_Kong"))


async def _until(predicate: object, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_the_worker_rides_out_an_outage_in_two_log_lines(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(pg_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        db = Database(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
        async with db.write() as session:
            await session.execute(text(SINK_DDL))
        sink = SinkHandler("w1")
        worker = FollowupWorker(
            db, load_settings(environ={}, database={"url": db.url}), FrozenClock(NOW),
            {"test": sink}, worker_id="w1",
        )  # fmt: skip
        caplog.set_level(logging.DEBUG)
        stop = asyncio.Event()
        rounds = 0
        wake = worker.wake

        async def counted() -> int:
            nonlocal rounds
            rounds += 1
            return await wake()

        worker.wake = counted  # type: ignore[method-assign]
        running = asyncio.create_task(worker.run_forever(stop, idle=timedelta(milliseconds=20)))
        try:
            await _until(lambda: rounds >= 2)
            proxy.down()
            await _until(lambda: not db.health.up)
            seen = rounds
            await _until(lambda: rounds >= seen + 10)  # ten rounds meet the outage
            assert not running.done(), running
            proxy.up()
            await _until(lambda: db.health.up)
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)  # ended by stop, not by the outage
            await db.dispose()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.levelname) for r in loud] == [("bot.store.db", "WARNING")], loud
    assert not any(r.exc_info for r in caplog.records)
    back = [r for r in caplog.records if r.name == "bot.store.db" and r.levelname == "INFO"]
    assert len(back) == 1
