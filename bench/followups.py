"""Benchmark: follow-up dispatch on PostgreSQL with 2 worker processes.

    python bench/followups.py [--rows 100000] [--workers 2] [--rate 1200] [--baseline-rows 3000]

Creates a throw-away database on the server in KEFU_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), then measures, each with fresh rows:

1. backlog        — ``--rows`` follow-ups all due now, no-op handler: dispatch throughput
                    (claim with SKIP LOCKED + lease, lock, complete).
2. paced          — ``--rows`` follow-ups due one after another at ``--rate`` per second
                    (above the 1 000/s target): lag from due time to done (p50/p99).
3. backlog+insert — as 1, but the handler writes one row per follow-up (like an outbound
                    message in the outbox): what a real handler's own SQL adds.
4. naive          — the baseline: one row claimed per transaction (batch size 1), on
                    ``--baseline-rows`` rows, same processes, no-op handler.

Lag = ``done_at`` (the worker's clock when the batch completes) - ``due_at``.
Targets: >= 1 000 follow-ups/s, lag p99 < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from bot.clock import SystemClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.followups.models import Followup  # noqa: E402
from bot.followups.worker import FollowupWorker  # noqa: E402
from bot.store.db import Database, sync_url  # noqa: E402
from bot.store.scratch import create_database, drop_database  # noqa: E402

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


class NoopHandler:
    """Does nothing: measures the dispatch machinery alone (claim, lock, complete)."""

    transactional = True

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        return None


def worker_process(
    url: str, worker_id: str, batch: int, stop: Any, ready: Any, cpu: Any, handler: str
) -> None:
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
            {"bench": SinkHandler(worker_id) if handler == "insert" else NoopHandler()},
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
    url: str,
    name: str,
    n: int,
    workers: int,
    batch: int,
    rate: float | None,
    lead_s: float,
    handler: str,
) -> dict[str, Any]:
    """Start ``workers`` processes, insert ``n`` rows, wait until all are done; measure."""
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE bench_sink"))
        conn.execute(text("DELETE FROM followups"))
    ctx = mp.get_context("spawn")
    stop, readies, cpu = ctx.Event(), [ctx.Event() for _ in range(workers)], ctx.Queue()
    procs = [
        ctx.Process(
            target=worker_process,
            args=(url, f"{name}-w{i}", batch, stop, readies[i], cpu, handler),
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(60)
    # Rows first due `lead_s` from now, so inserting them is not counted; throughput is rows
    # over the time from the first due time to the last completion.
    first_due = datetime.now(UTC) + timedelta(seconds=lead_s)
    insert_rows(url, n, first_due, rate, name)
    deadline = time.perf_counter() + 1200
    with engine.connect() as conn:
        while time.perf_counter() < deadline:
            done = conn.execute(
                text("SELECT count(*) FROM followups WHERE status = 'done'")
            ).scalar_one()
            conn.commit()
            if done >= n:
                break
            time.sleep(0.2)
    stop.set()
    cpu_seconds = sum(cpu.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(60)
    lag = "extract(epoch FROM done_at - due_at)"
    with engine.connect() as conn:
        count, span, p50, p99, worst = conn.execute(
            text(
                "SELECT count(*), extract(epoch FROM max(done_at) - min(due_at)),"
                f" percentile_cont(0.5) WITHIN GROUP (ORDER BY {lag}),"
                f" percentile_cont(0.99) WITHIN GROUP (ORDER BY {lag}), max({lag})"
                " FROM followups WHERE status = 'done'"
            )
        ).one()
        per_worker = conn.execute(
            text(
                "SELECT lease_owner, count(*) FROM followups WHERE status = 'done'"
                " GROUP BY 1 ORDER BY 1"
            )
        ).all()
        problems = conn.execute(
            text("SELECT count(*) FROM followups WHERE status <> 'done' OR last_error IS NOT NULL")
        ).scalar_one()
        sink = conn.execute(text("SELECT count(*) FROM bench_sink")).scalar_one()
    engine.dispose()
    return {
        "rows": int(count),
        "problems": int(problems),
        "sink": int(sink) if handler == "insert" else None,
        "throughput": count / float(span) if span else float("nan"),
        "lag_p50": float(p50),
        "lag_p99": float(p99),
        "lag_max": float(worst),
        "per_worker": {w: c for w, c in per_worker},
        "cpu_us_per_row": cpu_seconds / count * 1e6 if count else float("nan"),
    }


def report(name: str, r: dict[str, Any]) -> None:
    """One line per phase."""
    sink = "" if r["sink"] is None else f"  sink rows={r['sink']}"
    print(
        f"{name:<15} done={r['rows']:>6}  not done/errors={r['problems']}{sink}  "
        f"throughput={r['throughput']:>5.0f}/s  "
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
    url = create_database(server, "kefu_bench")
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
        w, b = args.workers, args.batch
        results = {
            "backlog": run_phase(url, "backlog", args.rows, w, b, None, 3.0, "noop"),
            "paced": run_phase(url, "paced", args.rows, w, b, args.rate, 3.0, "noop"),
            "backlog+insert": run_phase(url, "insert", args.rows, w, b, None, 3.0, "insert"),
            "naive": run_phase(url, "naive", args.baseline_rows, w, 1, None, 3.0, "noop"),
        }
        for phase, result in results.items():
            report(phase, result)
        backlog, paced, baseline = results["backlog"], results["paced"], results["naive"]
        ok_rate = backlog["throughput"] >= 1000
        ok_lag = paced["lag_p99"] < 2.0
        exact = (
            all(r["problems"] == 0 for r in results.values())
            and results["backlog+insert"]["sink"] == args.rows
        )
        print(
            "batched claiming vs one-row-at-a-time: "
            f"{backlog['throughput'] / baseline['throughput']:.1f}x",
            flush=True,
        )
        print(
            f"throughput {'OK' if ok_rate else 'MISSED'}; lag p99 {'OK' if ok_lag else 'MISSED'};"
            f" each exactly once {'OK' if exact else 'FAILED'}",
            flush=True,
        )
    finally:
        drop_database(server, url)


if __name__ == "__main__":
    main()
