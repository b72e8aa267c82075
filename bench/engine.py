"""Cost of one dialogue-engine turn: CPU milliseconds and SQL statements per turn.

A turn is ``Engine.handle`` (record the delivery, lock the conversation, NLU, actions, store
events and replies) plus ``Engine.mark_sent_many`` for its replies, the way a channel drives it.
Users cycle through a greeting, an FAQ question, thanks and "my tickets" in two languages, so
slots, the contact's language and the ticket lookup all change from turn to turn. Runs on SQLite
and on a fresh PostgreSQL database; CPU is the measuring process's (the aiosqlite thread
included).

    python bench/engine.py [--turns 600] [--users 50] [--repeat 3] [--baseline main]

The baseline is another commit (``--baseline REF``, default ``main``; ``none`` to skip),
measured in the same run with the same workload: its source tree (``git archive``) and this
tree each run every measurement in a fresh process, interleaved, and the summary compares
medians. A shared machine's speed drifts by tens of percent, so a constant measured another
day says little. Target (issue 4): one turn <= 2.5 ms CPU; (issue 12) no worse than 5 % than
the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
# The source tree measured: this one, or a baseline's (set by main() for its subprocesses).
ROOT = Path(os.environ.get("KEFU_BENCH_TREE") or HERE)
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.messages import InboundMessage  # noqa: E402
from bot.nlu import load_interpreter  # noqa: E402
from bot.store.scratch import create_database, drop_database  # noqa: E402

TEXTS = ["你好", "管理處幾點上班", "thanks", "my tickets"]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


async def measure(db_url: str, turns: int, users: int) -> tuple[float, float, float]:
    """(CPU ms per turn, wall ms per turn, statements per turn) after a warm-up."""
    settings = load_settings(ROOT / "config.yml", environ={}, database={"url": db_url})
    app = build_app(settings, interpreter=load_interpreter(settings), migrate=True)
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)
    run = uuid.uuid4().hex[:8]

    async def turn(i: int) -> None:
        user = f"u{i % users}"
        outs = await app.engine.handle(
            InboundMessage(
                channel="bench",
                user_id=user,
                chat_id=user,
                text=TEXTS[(i // users + i) % len(TEXTS)],
                delivery_id=f"{run}-{i}",
            )
        )
        await app.engine.mark_sent_many([(o.id, f"m{o.id}") for o in outs if o.id is not None])

    try:
        for i in range(2 * users):  # warm-up: every user exists, caches are filled
            await turn(i)
        statements = 0
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(2 * users, 2 * users + turns):
            await turn(i)
        cpu_ms = (time.process_time() - cpu) / turns * 1000
        wall_ms = (time.perf_counter() - wall) / turns * 1000
        return cpu_ms, wall_ms, statements / turns
    finally:
        await app.close()


Run = tuple[float, float, float]


def measure_in_process(tree: Path, db_url: str, turns: int, users: int) -> Run:
    """One :func:`measure` in a fresh interpreter importing ``tree``'s ``bot``."""
    env = {**os.environ, "KEFU_BENCH_TREE": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--one", db_url]
    command += ["--turns", str(turns), "--users", str(users)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        raise RuntimeError(f"measuring {tree} failed")
    cpu, wall, stmts = json.loads(out.stdout.strip().splitlines()[-1])
    return cpu, wall, stmts


def summary(name: str, runs: list[Run], baseline: list[Run] | None, label: str) -> str:
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    line = (
        f"{name:<11} cpu {cpu:5.2f} ms/turn  wall {wall:5.2f} ms/turn  "
        f"{runs[0][2]:5.2f} statements/turn  [target <= 2.5 ms: "
        f"{'met' if cpu <= 2.5 else 'NOT met'}]"
    )
    if baseline:
        base_cpu = statistics.median(r[0] for r in baseline)
        base_wall = statistics.median(r[1] for r in baseline)
        change = (cpu / base_cpu - 1) * 100
        line += (
            f"\n{'':<11} baseline {label}: cpu {base_cpu:5.2f} ms/turn  wall {base_wall:5.2f} "
            f"ms/turn  {baseline[0][2]:5.2f} statements/turn  |  CPU {change:+.1f} % "
            f"[no worse than 5 %: {'ok' if change <= 5 else 'MISSED'}]"
        )
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=600)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs per database (median)")
    parser.add_argument("--baseline", default="main", help="git ref measured alongside, or none")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a single measurement (subprocess)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.one:
        print(json.dumps(asyncio.run(measure(args.one, args.turns, args.users))))
        return 0
    from bench.baseline import trees_to_measure  # this tree's (ROOT is HERE here)

    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)", flush=True)
    server = os.environ.get("KEFU_BENCH_POSTGRES_URL") or os.environ.get(
        "KEFU_TEST_POSTGRES_URL", PG_DEFAULT
    )
    with contextlib.ExitStack() as stack:
        trees, label = trees_to_measure(stack, args.baseline, HERE)
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        runs: dict[tuple[str, str], list[Run]] = {}
        # Interleaved: a machine that is slower for a while slows both trees alike.
        for i in range(args.repeat):
            for name, tree in trees.items():
                url = f"sqlite:///{tmp}/{name.replace(' ', '_')}{i}.db"
                run = measure_in_process(tree, url, args.turns, args.users)
                runs.setdefault(("SQLite", name), []).append(run)
                url = create_database(server, "kefu_bench")
                try:
                    run = measure_in_process(tree, url, args.turns, args.users)
                finally:
                    drop_database(server, url)
                runs.setdefault(("PostgreSQL", name), []).append(run)
    for db in ("SQLite", "PostgreSQL"):
        print(summary(db, runs[(db, "this tree")], runs.get((db, "baseline")), label))
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
