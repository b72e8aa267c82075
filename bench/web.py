"""The web console under load: the inbox with 10,000 open tickets, and live updates to 50 staff.

    python bench/web.py [--tickets 10000] [--requests 40] [--staff 50] [--postgres]

1. Inbox render: a logged-in GET of ``/`` (all open tickets read, sorted by next deadline, the
   ``web.inbox_limit`` most urgent rendered) against the real Starlette app in process. The
   baseline, measured in the same run on the same data: the inbox query alone, without HTTP or
   templates, so the page's own cost is the difference.
2. SSE fan-out: ``--staff`` browsers hold ``/events`` open on a real uvicorn server; one ticket
   changes; the time until each stream says ``changed``. The baseline is ``web.poll_interval``
   (one database poll per process, whatever the number of staff): a change is seen within one
   interval plus the fan-out.

Prints p50/p99 (ms) and the load average, which on a shared 2-core machine explains a lot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from bench.telegram_e2e import postgres_database  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import Ticket  # noqa: E402
from bot.web.accounts import add_account  # noqa: E402
from bot.web.app import create_app  # noqa: E402
from bot.web.models import StaffRole  # noqa: E402
from bot.web.queries import inbox  # noqa: E402
from bot.web.serve import ConsoleServer  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
PASSWORD = "bench password 1"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, ms: list[float]) -> str:
    return f"{name:<34} p50 {pct(ms, 0.5):8.1f} ms   p99 {pct(ms, 0.99):8.1f} ms   n={len(ms)}"


async def seed(db: Database, count: int) -> None:
    """``count`` open tickets with deadlines spread over a week, some overdue; one manager."""
    now = datetime.now(UTC)
    table = Ticket.__table__
    rows = [
        {
            "number": f"R-20261202-{n:05d}", "kind": ("repair", "complaint")[n % 2],
            "category": "lift", "priority": "normal", "status": "open",
            "unit": f"{'ABC'[n % 3]}座{n % 30 + 1}樓{'ABCD'[n % 4]}室",
            "description": "部電梯壞咗" * 3, "anonymous": False, "details": {}, "sla": {},
            "created_at": now - timedelta(minutes=n), "updated_at": now,
            "due_first_response": now + timedelta(minutes=(n * 37) % 10080 - 600),
            "due_resolution": now + timedelta(days=3, minutes=n),
        }
        for n in range(count)
    ]  # fmt: skip
    async with db.write() as session:
        for start in range(0, count, 1000):
            await session.execute(table.insert(), rows[start : start + 1000])  # type: ignore[attr-defined]
        await add_account(session, email="boss@office.hk", name="Boss", role=StaffRole.MANAGER,
                          password=PASSWORD, now=now)  # fmt: skip


async def log_in(http: httpx.AsyncClient) -> None:
    page = await http.get("/login")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    reply = await http.post("/login", data={"email": "boss@office.hk", "password": PASSWORD,
                                            "csrf": token})  # fmt: skip
    assert reply.status_code == 303, reply.text


async def inbox_render(settings: object, db: Database, requests: int) -> None:
    app = create_app(settings, db, SystemClock(), secret=SECRET)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        await log_in(http)
        page_ms: list[float] = []
        query_ms: list[float] = []
        for _ in range(requests):
            started = time.perf_counter()
            async with db.session() as session:
                box = await inbox(session, {}, datetime.now(UTC), 500)
            query_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            reply = await http.get("/", headers={"accept": "text/html"})
            page_ms.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 200
    print(f"inbox: {box.total} open tickets, {len(box.rows)} rendered, {box.overdue} overdue")
    print(line("baseline: inbox query alone", query_ms))
    print(line("inbox page (GET /)", page_ms))
    print(f"page / query (p50): {pct(page_ms, 0.5) / pct(query_ms, 0.5):.2f}x")


async def fanout(settings: object, db: Database, staff: int) -> None:
    server = ConsoleServer(settings, db, SystemClock(), secret=SECRET)  # type: ignore[arg-type]
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as login:
            await log_in(login)
            cookies = login.cookies
        ready = asyncio.Event()
        connected = 0
        changed_at: list[float] = []

        async def browser() -> None:
            nonlocal connected
            async with (
                httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=60) as http,
                http.stream("GET", "/events") as stream,
            ):
                connected += 1
                if connected == staff:
                    ready.set()
                async for text in stream.aiter_lines():
                    if text.startswith("event: changed"):
                        changed_at.append(time.perf_counter())
                        return

        tasks = [asyncio.create_task(browser()) for _ in range(staff)]
        await asyncio.wait_for(ready.wait(), 60)
        await asyncio.sleep(settings.web.poll_interval.total_seconds() * 2)  # type: ignore[attr-defined]
        changed = time.perf_counter()
        async with db.write() as session:
            ticket = await session.get(Ticket, 1)
            assert ticket is not None
            ticket.updated_at = datetime.now(UTC) + timedelta(seconds=1)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        delays = [(t - changed) * 1000 for t in changed_at]
        interval = settings.web.poll_interval.total_seconds() * 1000  # type: ignore[attr-defined]
        print(f"SSE fan-out to {staff} staff: all {len(delays)} told of one change")
        print(f"baseline: poll interval {interval:.0f} ms (one query per interval per process)")
        print(line("change -> event at each browser", delays))
        print(f"spread (last - first): {max(delays) - min(delays):.1f} ms")
    finally:
        await server.stop()


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="kefu-bench-web-") as tmp:
        yield f"sqlite+aiosqlite:///{tmp}/kefu.db"


async def main(args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(f"load: {load[0]:.2f} {load[1]:.2f} (1, 5 min)", flush=True)
    with postgres_database() if args.postgres else sqlite_database() as url:
        settings = load_settings(
            HERE / "config.yml", environ={}, database={"url": url},
            dialogues_dir=str(HERE / "dialogues"),
            web={"listen": "127.0.0.1", "port": 0, "poll_interval": "0.5s"},
        )  # fmt: skip
        db = Database(url)
        await asyncio.to_thread(db.upgrade)
        try:
            await seed(db, args.tickets)
            print(f"store: {'PostgreSQL' if args.postgres else 'SQLite'}")
            await inbox_render(settings, db, args.requests)
            await fanout(settings, db, args.staff)
        finally:
            await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    asyncio.run(main(parser.parse_args()))
