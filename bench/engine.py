"""Cost of one dialogue-engine turn: CPU milliseconds and SQL statements per turn.

A turn is ``Engine.handle`` (record the delivery, lock the conversation, NLU, actions, store
events and replies) plus ``Engine.mark_sent_many`` for its replies, the way a channel drives it.
Users cycle through a greeting, an FAQ question, thanks and "my tickets" in two languages, so
slots, the contact's language and the ticket lookup all change from turn to turn. Runs on SQLite
and on a fresh PostgreSQL database; CPU is this process's (the aiosqlite thread included).

    python bench/engine.py [--turns 600] [--users 50]

Target (issue 4): one turn <= 2.5 ms CPU, so one process serves >= 300 messages/s. The
reference line is the engine before the hot path was rewritten (ORM unit of work for every
row), measured on the same machine with this script's workload; it is a printed constant, so
compare it with care on other hardware.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.messages import InboundMessage  # noqa: E402
from bot.nlu import load_interpreter  # noqa: E402
from bot.store.scratch import create_database, drop_database  # noqa: E402

TEXTS = ["你好", "管理處幾點上班", "thanks", "my tickets"]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# The engine at commit b99a88d (ORM unit of work on the hot path), this workload, this machine:
# CPU ms per turn and statements per turn (mark_sent included; BEGIN/COMMIT not counted).
REFERENCE = {"SQLite": (6.7, 9.75), "PostgreSQL": (7.2, 9.75)}


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


def report(name: str, runs: list[tuple[float, float, float]]) -> None:
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    stmts = runs[0][2]
    ref_cpu, ref_stmts = REFERENCE[name]
    print(
        f"{name:<11} cpu {cpu:5.2f} ms/turn  wall {wall:5.2f} ms/turn  "
        f"{stmts:5.2f} statements/turn  |  reference {ref_cpu:4.1f} ms, {ref_stmts:4.2f} "
        f"statements: {ref_cpu / cpu:4.1f}x less CPU  |  target <= 2.5 ms: "
        f"{'met' if cpu <= 2.5 else 'NOT met'}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=600)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs per database (median)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            asyncio.run(measure(f"sqlite:///{tmp}/bench{i}.db", args.turns, args.users))
            for i in range(args.repeat)
        ]
    report("SQLite", runs)
    server = os.environ.get("KEFU_BENCH_POSTGRES_URL") or os.environ.get(
        "KEFU_TEST_POSTGRES_URL", PG_DEFAULT
    )
    runs = []
    for _ in range(args.repeat):
        url = create_database(server, "kefu_bench")
        try:
            runs.append(asyncio.run(measure(url, args.turns, args.users)))
        finally:
            drop_database(server, url)
    report("PostgreSQL", runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
