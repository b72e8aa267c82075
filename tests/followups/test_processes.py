"""Several worker PROCESSES on one PostgreSQL database: each follow-up handled exactly once,
and a worker killed mid-way has its rows done by another after the lease."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from followup_sink import SINK_DDL, SinkHandler
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot.clock import FrozenClock
from bot.config import load_settings
from bot.followups import FollowupWorker
from bot.store.db import Database, sync_url

pytestmark = [pytest.mark.postgres, pytest.mark.process]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
HK = ZoneInfo("Asia/Hong_Kong")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=HK)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    eng = create_engine(sync_url(pg_url))
    with eng.begin() as conn:
        conn.execute(text(SINK_DDL))
        conn.execute(text("DELETE FROM followup_sink"))
        conn.execute(text("DELETE FROM followups"))
    yield eng
    eng.dispose()


def insert_due(engine: Engine, n: int, due: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO followups (kind, due_at, status, idempotency_key, to_customer,"
                " urgent, attempts, payload, created_at)"
                " SELECT 'test', :due, 'pending', 'p' || g, false, false, 0, '{}'::jsonb, :due"
                " FROM generate_series(1, :n) AS g"
            ),
            {"due": due, "n": n},
        )


def spawn(url: str, worker: str, now: datetime, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(HERE / "worker_proc.py"), url, worker, now.isoformat(), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_ready(procs: list[subprocess.Popen[str]], ready: list[Path]) -> None:
    """Wait until every process has written its ready file (fail at once if one died)."""
    deadline = time.monotonic() + 120
    while not all(path.exists() for path in ready):
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"a worker exited before it was ready: {proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, "the workers did not start within 120 s"
        time.sleep(0.01)


def test_four_processes_handle_600_follow_ups_exactly_once(
    pg_url: str, engine: Engine, tmp_path: Path
) -> None:
    insert_due(engine, 600, NOW - timedelta(minutes=1))
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-w{i}" for i in range(4)]
    procs = [
        spawn(pg_url, f"w{i}", NOW, "--batch", "10", "--ready", str(ready[i]), "--go", str(go),
              "--pause", "0.001")
        for i in range(4)
    ]  # fmt: skip
    wait_until_ready(procs, ready)  # all started; they wait for `go`
    go.write_text("go")
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    with engine.connect() as conn:
        sink = conn.execute(text("SELECT worker, count(*) FROM followup_sink GROUP BY worker"))
        per_worker = {worker: count for worker, count in sink}
        rows = conn.execute(
            text(
                "SELECT status, attempts, last_error IS NULL, count(*) FROM followups"
                " GROUP BY 1, 2, 3"
            )
        ).all()
    assert sum(per_worker.values()) == 600
    assert len(per_worker) >= 2, per_worker  # the work really was shared
    assert [tuple(r) for r in rows] == [("done", 1, True, 600)]


async def _drain(url: str, worker_id: str, now: datetime) -> int:
    """A worker in this process at ``now``, run until idle: how many follow-ups it claimed."""
    db = Database(url, pool_size=2)
    try:
        settings = load_settings(environ={}, database={"url": url})
        handlers = {"test": SinkHandler(worker_id)}
        worker = FollowupWorker(
            db, settings, FrozenClock(now), handlers, worker_id=worker_id, batch_size=50
        )
        return await worker.run_until_idle()
    finally:
        await db.dispose()


def test_killed_worker_rows_are_done_by_another_after_the_lease(
    pg_url: str, engine: Engine, tmp_path: Path
) -> None:
    insert_due(engine, 20, NOW)
    marker = tmp_path / "claimed"
    victim = spawn(pg_url, "victim", NOW, "--batch", "20", "--hang", str(marker), "--lease", "60")
    try:
        for _ in range(3000):  # wait until it has claimed and is inside a handler
            if marker.exists():
                break
            if victim.poll() is not None:
                pytest.fail(victim.communicate()[1][-2000:])
            time.sleep(0.01)
        assert marker.exists()
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    with engine.connect() as conn:
        claimed = conn.execute(
            text("SELECT count(*) FROM followups WHERE status='claimed' AND lease_owner='victim'")
        ).scalar_one()
    assert claimed == 20

    # A second before the lease ends another worker claims nothing; in this process (the victim
    # is the real process that matters here; a third one cost ~1.5 s of CPU to start).
    assert asyncio.run(_drain(pg_url, "early", NOW + timedelta(seconds=59))) == 0

    survivor = spawn(pg_url, "survivor", NOW + timedelta(seconds=60), "--batch", "50")
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    assert "claimed 20" in out
    with engine.connect() as conn:
        workers = conn.execute(text("SELECT DISTINCT worker FROM followup_sink")).scalars().all()
        done = conn.execute(
            text("SELECT count(*) FROM followups WHERE status='done' AND attempts=2")
        ).scalar_one()
    assert workers == ["survivor"]  # the victim's half-done transaction left nothing behind
    assert done == 20


async def test_downtime_with_two_processes_runs_each_missed_one_once(
    pg_url: str, engine: Engine, tmp_path: Path
) -> None:
    # One follow-up a minute from 10:00 to 10:59; every worker was down until 11:05.
    with engine.begin() as conn:
        for i in range(60):
            conn.execute(
                text(
                    "INSERT INTO followups (kind, due_at, status, idempotency_key, to_customer,"
                    " urgent, attempts, payload, created_at)"
                    " VALUES ('test', :due, 'pending', :key, false, false, 0, '{}', :due)"
                ),
                {"due": NOW + timedelta(minutes=i), "key": f"minute-{i}"},
            )
    back = NOW + timedelta(hours=1, minutes=5)
    go = tmp_path / "go"
    procs = [spawn(pg_url, f"w{i}", back, "--batch", "5", "--go", str(go)) for i in range(2)]
    go.write_text("go")
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    # And a third worker, in this process, finds nothing left to do.
    db = Database(pg_url)
    try:
        settings = load_settings(environ={}, database={"url": pg_url})
        worker = FollowupWorker(db, settings, FrozenClock(back), {"test": SinkHandler("late")})
        assert await worker.run_until_idle() == 0
    finally:
        await db.dispose()
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT idempotency_key FROM followup_sink")).scalars().all()
    assert sorted(keys) == sorted(f"minute-{i}" for i in range(60))
