"""The daily fee-reminder run for a large estate: how long planning and sending take.

Creates ``--units`` households with a linked chat and ``--items`` fee items each, all due
today, in a fresh PostgreSQL database (or SQLite with ``--sqlite``), then times one day's run
through the real follow-up worker (plan, then one message per unit into the outbox) and checks
that every unit got exactly one message. Prints the load average with the numbers, since the
machine is shared.

    python bench/fee_reminders.py [--units 2000] [--items 2] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import Message  # noqa: E402
from tests.fees.support import fee, household  # noqa: E402

PG = os.environ.get("KEFU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class _NoNLU:
    def parse(self, text: str, *, now: datetime | None = None) -> dict[str, object]:
        return {"intent": {"name": "nlu_fallback", "confidence": 0.0}, "entities": []}


async def main(units: int, items: int, url: str) -> None:
    tz = ZoneInfo("Asia/Hong_Kong")
    clock = FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=tz))
    settings = load_settings(HERE / "config.yml", environ={}, database={"url": url})
    Database(url).upgrade()
    app = build_app(settings, clock=clock, interpreter=_NoNLU(), migrate=False)
    now = clock.now()
    async with app.db.write() as s:
        for i in range(units):
            unit, _ = await household(
                s, f"{i % 10 + 1}座{1000 + i}室", now=now, phone=f"+8529{i:07d}", chat_id=f"b{i}"
            )
            for n in range(items):
                await fee(s, unit, "2026-11", f"item{n}", "1000", now.date(), now=now)
    worker = app.followup_worker()
    started = time.perf_counter()
    rounds = 0
    while await worker.run_until_idle():
        rounds += 1
    elapsed = time.perf_counter() - started
    async with app.db.session() as s:
        sent = await s.scalar(select(func.count()).select_from(Message))
    await app.close()
    print(
        f"{units} units x {items} items: day's run {elapsed:.2f} s "
        f"({elapsed / units * 1000:.2f} ms per unit, {rounds} worker rounds); "
        f"{sent} messages (expected {units}); load {os.getloadavg()[0]:.1f}"
    )
    assert sent == units


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--items", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    if args.sqlite:
        folder = tempfile.mkdtemp()
        asyncio.run(main(args.units, args.items, f"sqlite:///{folder}/bench.db"))
    else:
        name = f"kefu_bench_fees_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG.replace("+psycopg", "+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            asyncio.run(main(args.units, args.items, PG.rsplit("/", 1)[0] + f"/{name}"))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
