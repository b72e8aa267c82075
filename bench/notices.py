"""Benchmark: how long a notice takes to reach every recipient through a real ``kefu run``.

    python bench/notices.py [--recipients 10000] [--rate 30]

Seeds ``--recipients`` residents, each with a linked Telegram chat, in a throw-away PostgreSQL
database (KEFU_BENCH_POSTGRES_URL, default the test server), creates one ordinary notice to
all of them and starts ``kefu run`` (polling, Kefu's rate limiter at ``--rate`` per second)
against the fake Bot API. Reports the time from the notice being created to the last
recipient's message arriving, and from the first message to the last, against the physical
limit of Telegram's ceiling (N / rate: 10,000 at 30/s is 333.3 s), plus the busiest second
and how many chats got the notice more or less than once (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.notices.service import NoticeDraft, create_notice  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.scratch import create_database, drop_database  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI  # noqa: E402
from tests.notices.seed import seed_residents  # noqa: E402
from tests.telegram.processes import KefuRun  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


async def create(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as session:
            await create_notice(
                session,
                NoticeDraft(
                    title={"zh-Hant": "升降機保養", "en": "Lift maintenance"},
                    body={"zh-Hant": "明日上午十時至十二時暫停使用。"},
                    audience={"residents": "all"},
                ),
                now=datetime.now(UTC),
                settings=Settings(),
            )
    finally:
        await db.dispose()


def busiest_second(times: list[float]) -> int:
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=30.0)
    args = parser.parse_args()
    server = os.environ.get("KEFU_BENCH_POSTGRES_URL", DEFAULT_SERVER)
    url = create_database(server, "kefu_bench")
    try:
        upgrade(url)
        chats = seed_residents(url, args.recipients)
        with FakeBotAPI() as api, tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            await create(url)
            run = KefuRun(
                api,
                url,
                Path(tmp),
                KEFU_TELEGRAM__RATE_LIMIT__PER_SECOND=str(args.rate),
                KEFU_NOTICES__POLL_INTERVAL="0.5s",
                KEFU_SLA__POLL_INTERVAL="0.5s",
                KEFU_SLA__QUIET_HOURS="",  # measure sending, not the clock
            )
            try:
                limit = args.recipients / args.rate
                deadline = time.perf_counter() + limit * 2 + 120
                while sum(api.sent_count(c) for c in chats) < len(chats):
                    if time.perf_counter() > deadline or run.process.poll() is not None:
                        raise SystemExit(f"not all sent:\n{run.log()[-3000:]}")
                    await asyncio.sleep(0.25)
                # The server records arrivals on this process's perf_counter.
                ended = max(t for c in chats for t in api.sent_times(c))
            finally:
                run.stop()
            times = sorted(t for c in chats for t in api.sent_times(c))
            wrong = sum(1 for c in chats if api.sent_count(c) != 1)
        total, sending = ended - started, times[-1] - times[0]
        print(f"recipients: {len(chats)} at {args.rate:g}/s (physical limit {limit:.1f} s)")
        print(f"notice created -> last recipient: {total:.1f} s ({total / limit:.3f}x the limit)")
        print(
            f"first -> last message: {sending:.1f} s, {(len(times) - 1) / sending:.2f} messages/s"
        )
        print(f"busiest second: {busiest_second(times)} messages; chats not sent exactly once: "
              f"{wrong}")  # fmt: skip
    finally:
        drop_database(server, url)


if __name__ == "__main__":
    asyncio.run(main())
