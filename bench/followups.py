"""Benchmark: follow-up dispatch on PostgreSQL with 2 worker processes.

    python bench/followups.py [--rows 100000] [--workers 2] [--baseline-rows 10000]

Creates a throw-away database on the server in KEFU_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), then measures, each with fresh rows:

1. backlog   — ``--rows`` follow-ups all due now: dispatch throughput (rows/s).
2. paced     — ``--rows`` follow-ups due spread over time at ``--rate`` per second (above the
               1 000/s target): lag from due time to handled (p50/p99) and throughput.
3. baseline  — the naive way, one row claimed per transaction (batch size 1), on
               ``--baseline-rows`` rows due now, same 2 processes: throughput.

The handler writes one row per follow-up (like an outbound message in the outbox), stamped
with the database's ``clock_timestamp()``; lag = that stamp - due time.
Targets: >= 1 000 follow-ups/s, lag p99 < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from bot.clock import SystemClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.followups.models import Followup  # noqa: E402
from bot.followups.worker import FollowupWorker  # noqa: E402
from bot.store.db import Database, sync_url  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SINK_DDL = (
    "CREATE UNLOGGED TABLE IF NOT EXISTS bench_sink ("
    " idempotency_key VARCHAR(200) PRIMARY KEY,"
    " due_at TIMESTAMPTZ NOT NULL,"
    " handled_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),"
    " worker VARCHAR(64) NOT NULL)"
)


class SinkHandler:
    """One INSERT per follow-up, in the transaction that completes it."""

    transactional = True

    def __init__(self, worker: str) -> None:
        self.worker = worker

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        await session.execute(
            text("INSERT INTO bench_sink (idempotency_key, due_at, worker) VALUES (:k, :d, :w)"),
            {"k": followup.idempotency_key, "d": followup.due_at, "w": self.worker},
        )


def worker_process(url: str, worker_id: str, batch: int, stop: Any, ready: Any, cpu: Any) -> None:
    """A worker process: run until ``stop`` is set; report the CPU seconds it used."""

    async def main() -> None:
        settings = load_settings(
            environ={}, database={"url": url}, sla={"poll_interval": "50ms", "lease": "60s"}
        )
        db = Database(url, pool_size=4)
        worker = FollowupWorker(
            db,
            settings,
            SystemClock("UTC"),
            {"bench": SinkHandler(worker_id)},
            worker_id=worker_id,
            batch_size=batch,
        )
        await worker.next_due()  # connect before the clock starts
        ready.set()
        cpu_start = time.process_time()
        stop_event = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.05)
            stop_event.set()

        watcher = asyncio.create_task(watch())
        await worker.run_forever(stop_event, idle=timedelta(milliseconds=50))
        await watcher
        cpu.put(time.process_time() - cpu_start)
        await db.dispose()

    asyncio.run(main())


def insert_rows(url: str, n: int, first_due: datetime, rate: float | None, tag: str) -> None:
    """Insert ``n`` pending follow-ups, all due at ``first_due`` or paced at ``rate``/s."""
    engine = create_engine(sync_url(url))
    step = 0.0 if not rate else 1.0 / rate
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO followups (kind, due_at, status, idempotency_key, to_customer,"
                " urgent, attempts, payload, created_at)"
                " SELECT 'bench',"
                " CAST(:first AS timestamptz) + make_interval(secs => (g - 1) * :step),"
                " 'pending', :tag || g, false, false, 0, '{}'::jsonb, now()"
                " FROM generate_series(1, :n) AS g"
            ),
            {"first": first_due, "step": step, "n": n, "tag": f"{tag}-"},
        )
        conn.execute(text("ANALYZE followups"))
    engine.dispose()


def run_phase(
    url: str, name: str, n: int, workers: int, batch: int, rate: float | None, lead_s: float
) -> dict[str, float]:
    """Start ``workers`` processes, insert ``n`` rows, wait until all are handled; measure."""
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE bench_sink"))
        conn.execute(text("DELETE FROM followups"))
    ctx = mp.get_context("spawn")
    stop, readies, cpu = ctx.Event(), [ctx.Event() for _ in range(workers)], ctx.Queue()
    procs = [
        ctx.Process(target=worker_process, args=(url, f"{name}-w{i}", batch, stop, readies[i], cpu))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(60)
    # Rows first due `lead_s` from now, so inserting them is not counted as lag.
    first_due = datetime.now(UTC) + timedelta(seconds=lead_s)
    insert_rows(url, n, first_due, rate, name)
    started = time.perf_counter()
    deadline = started + 900
    with engine.connect() as conn:
        while time.perf_counter() < deadline:
            done = conn.execute(text("SELECT count(*) FROM bench_sink")).scalar_one()
            conn.commit()
            if done >= n:
                break
            time.sleep(0.2)
    stop.set()
    cpu_seconds = sum(cpu.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(60)
    with engine.connect() as conn:
        stats = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT idempotency_key),"
                " extract(epoch FROM max(handled_at) - min(due_at)),"
                " extract(epoch FROM max(handled_at) - min(handled_at)),"
                " percentile_cont(0.5) WITHIN GROUP"
                "   (ORDER BY extract(epoch FROM handled_at - due_at)),"
                " percentile_cont(0.99) WITHIN GROUP"
                "   (ORDER BY extract(epoch FROM handled_at - due_at)),"
                " max(extract(epoch FROM handled_at - due_at))"
                " FROM bench_sink"
            )
        ).one()
        per_worker = conn.execute(
            text("SELECT worker, count(*) FROM bench_sink GROUP BY worker ORDER BY worker")
        ).all()
        not_done = conn.execute(
            text("SELECT count(*) FROM followups WHERE status <> 'done'")
        ).scalar_one()
    engine.dispose()
    count, distinct, _span_from_due, span_handled, p50, p99, worst = stats
    span = float(span_handled)
    return {
        "rows": float(count),
        "duplicates": float(count - distinct),
        "not_done": float(not_done),
        "throughput": count / span if span > 0 else float("nan"),
        "lag_p50": float(p50),
        "lag_p99": float(p99),
        "lag_max": float(worst),
        "per_worker": {w: c for w, c in per_worker},  # type: ignore[dict-item]
        "cpu_us_per_row": cpu_seconds / count * 1e6 if count else float("nan"),
    }


def report(name: str, r: dict[str, Any]) -> None:
    print(
        f"{name:<9} rows={int(r['rows']):>7}  dup={int(r['duplicates'])}  "
        f"undone={int(r['not_done'])}  throughput={r['throughput']:>8.0f}/s  "
        f"lag p50={r['lag_p50']:.3f}s p99={r['lag_p99']:.3f}s max={r['lag_max']:.3f}s  "
        f"worker CPU={r['cpu_us_per_row']:.0f}us/row  per worker={r['per_worker']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1200.0, help="paced arrivals per second")
    parser.add_argument("--baseline-rows", type=int, default=3_000)
    args = parser.parse_args()

    server = os.environ.get("KEFU_TEST_POSTGRES_URL", DEFAULT_SERVER)
    name = f"kefu_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(sync_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        Database(url).upgrade()
        engine = create_engine(sync_url(url))
        with engine.begin() as conn:
            conn.execute(text(SINK_DDL))
        engine.dispose()
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"follow-up dispatch on PostgreSQL, {args.workers} worker processes, "
            f"batch {args.batch}; targets >= 1000/s, lag p99 < 2 s; "
            f"{os.cpu_count()} CPUs, load average {load}",
            flush=True,
        )
        backlog = run_phase(url, "backlog", args.rows, args.workers, args.batch, None, 1.0)
        report("backlog", backlog)
        paced = run_phase(url, "paced", args.rows, args.workers, args.batch, args.rate, 3.0)
        report("paced", paced)
        baseline = run_phase(url, "naive", args.baseline_rows, args.workers, 1, None, 1.0)
        report("naive", baseline)
        ok_rate = backlog["throughput"] >= 1000
        ok_lag = paced["lag_p99"] < 2.0
        exact = all(r["duplicates"] == 0 and r["not_done"] == 0 for r in (backlog, paced, baseline))
        print(
            f"speed-up over one-row-at-a-time claiming: "
            f"{backlog['throughput'] / baseline['throughput']:.1f}x",
            flush=True,
        )
        print(
            f"throughput {'OK' if ok_rate else 'MISSED'}; lag p99 {'OK' if ok_lag else 'MISSED'};"
            f" exactly once {'OK' if exact else 'FAILED'}",
            flush=True,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
