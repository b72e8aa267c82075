"""Kefu on Telegram, end to end: throughput and latency through the real bot.

N simulated users each send M messages (the next one once the reply came) through the real
Kefu Telegram bot (PTB Application, engine, NLU, store) against the fake Bot API server, with
SQLite and with PostgreSQL; then the same load through a bare python-telegram-bot echo bot on
the same fake server (the framework floor). Latency is from the update being queued at the fake
server to the bot's reply arriving there (both clocks are this process's ``perf_counter``).
A last run injects messages at a fixed rate (default 50/s) on PostgreSQL for the p99 target.

    python bench/telegram_e2e.py [--users 50] [--messages 20] [--rate 50] [--seconds 10]

Targets (issue 4): one process >= 300 messages/s; per-message time <= 1.5x the echo bot;
p99 < 100 ms at 50 messages/s on PostgreSQL. Rate limits are off: this measures Kefu, not
Telegram's caps. PostgreSQL: KEFU_BENCH_POSTGRES_URL (default the test server).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.channels.telegram import TelegramBot  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.store.scratch import create_database, drop_database  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI, FakeUser  # noqa: E402

# Each of these gets exactly one reply from Kefu (FAQ, greetings, thanks), so "the reply"
# of a message is unambiguous.
MESSAGES = [
    "你好",
    "管理處幾點開門？",
    "停車場月租幾錢",
    "謝謝",
    "What time does the office open?",
    "hello",
    "how do I pay the management fee",
    "我想問下裝修要申請嗎",
    "thanks",
    "bye",
]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    latencies: list[float]
    missing: int
    breakdown: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.messages:>6} msgs {self.rate:>8.1f} msg/s "
            f"p50 {self.pct(0.5):>7.1f} ms  p99 {self.pct(0.99):>7.1f} ms"
            + (f"  MISSING {self.missing}" if self.missing else "")
            + (f"\n{'':<30}{self.breakdown}" if self.breakdown else "")
        )


class TimedEngine:
    """Delegates to the engine and adds up the time spent in it (where the time goes)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.spent: dict[str, list[float]] = {"handle": [], "mark_sent": []}

    async def handle(self, message: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.engine.handle(message)
        finally:
            self.spent["handle"].append(time.perf_counter() - started)

    async def mark_sent(self, outbound_id: int, channel_message_id: str | None = None) -> None:
        started = time.perf_counter()
        try:
            await self.engine.mark_sent(outbound_id, channel_message_id)
        finally:
            self.spent["mark_sent"].append(time.perf_counter() - started)

    async def mark_unreachable(self, channel: str, chat_id: str) -> None:
        await self.engine.mark_unreachable(channel, chat_id)

    async def unsent(self, channel: str, *, limit: int = 500) -> Any:
        return await self.engine.unsent(channel, limit=limit)

    def reset(self) -> None:
        for values in self.spent.values():
            values.clear()

    def summary(self) -> str:
        parts = []
        for name, values in self.spent.items():
            if values:
                parts.append(f"{name} mean {1000 * sum(values) / len(values):.1f} ms")
        return "of which engine." + ", engine.".join(parts) + " (wall time, waits included)"


class Load:
    """Injects messages as users and finds each message's reply time at the fake server."""

    def __init__(self, api: FakeBotAPI, users: int, first_id: int) -> None:
        self.api = api
        self.users = [api.user(first_id + i, f"U{i}", language_code="zh-hk") for i in range(users)]
        self.sent: list[tuple[FakeUser, float, int]] = []  # user, injected at, reply index

    def _replied(self, chat_id: int, index: int) -> bool:
        return self.api.sent_count(chat_id) > index

    def inject(self, user: FakeUser, text: str) -> int:
        index = self.api.sent_count(user.id)
        update = self.api.text_update(user, text)
        at = time.perf_counter()
        self.api.queue(update)
        self.sent.append((user, at, index))
        return index

    async def closed_loop(self, per_user: int, timeout: float = 60) -> Result:
        async def one(user: FakeUser, offset: int) -> None:
            for m in range(per_user):
                index = self.inject(user, MESSAGES[(offset + m) % len(MESSAGES)])
                await self.api.until(functools.partial(self._replied, user.id, index), timeout)

        started = time.perf_counter()
        await asyncio.gather(*(one(u, i) for i, u in enumerate(self.users)))
        return self.result("", time.perf_counter() - started)

    async def open_loop(self, rate: float, seconds: float) -> Result:
        total = int(rate * seconds)
        started = time.perf_counter()
        for n in range(total):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            user = self.users[n % len(self.users)]
            self.inject(user, MESSAGES[n % len(MESSAGES)])
        last = self.users[(total - 1) % len(self.users)]
        await self.api.until(
            lambda: all(self.api.sent_count(u.id) > i for u, _, i in self.sent[-len(self.users) :]),
            60,
        )
        del last
        return self.result("", time.perf_counter() - started)

    def result(self, name: str, seconds: float) -> Result:
        latencies: list[float] = []
        missing = 0
        times = {u.id: self.api.sent_times(u.id) for u in self.users}
        for user, at, index in self.sent:
            replies = times[user.id]
            if len(replies) > index:
                latencies.append(replies[index] - at)
            else:
                missing += 1
        return Result(name, len(self.sent), seconds, latencies, missing)


async def run_echo(users: int, per_user: int) -> Result:
    """The floor: a bare PTB echo bot (Updater polling, concurrent updates)."""
    with FakeBotAPI() as api:

        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            if update.message and update.message.text:
                await update.message.reply_text(update.message.text)

        application = (
            ApplicationBuilder()
            .token(api.token)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .concurrent_updates(256)
            .connection_pool_size(256)
            .build()
        )
        application.add_handler(MessageHandler(filters.TEXT, echo))
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(timeout=1, poll_interval=0)
            load = Load(api, users, 10_000)
            result = await load.closed_loop(per_user)
            await application.updater.stop()
            await application.stop()
        result.name = "bare PTB echo bot"
        return result


def kefu_settings(api: FakeBotAPI, db_url: str, var_dir: Path) -> Any:
    return load_settings(
        ROOT / "config.yml",
        environ={},
        database={"url": db_url, "pool_size": 20},
        var_dir=str(var_dir),
        log_level="WARNING",
        telegram={
            "base_url": api.base_url,
            "poll_timeout": 1,
            "concurrency": 128,
            "rate_limit": {"per_second": 0, "per_chat_per_second": 0, "group_per_minute": 0},
        },
    )


async def run_kefu(
    name: str, db_url: str, users: int, per_user: int, rate: float = 0, seconds: float = 0
) -> Result:
    with FakeBotAPI() as api, tempfile.TemporaryDirectory() as tmp:
        settings = kefu_settings(api, db_url, Path(tmp))
        app = build_app(settings)
        try:
            timed = TimedEngine(app.engine)
            async with TelegramBot(settings, timed, token=api.token, db=app.db):
                load = Load(api, users, 20_000)
                # Warm-up (first NLU call, connection pools), not measured.
                for user in load.users[:5]:
                    load.inject(user, "hello")
                await api.until(lambda: all(api.sent_count(u.id) for u in load.users[:5]), 60)
                load.sent.clear()
                timed.reset()
                if rate:
                    result = await load.open_loop(rate, seconds)
                else:
                    result = await load.closed_loop(per_user)
        finally:
            await app.close()
        result.name = name
        result.breakdown = timed.summary()
        return result


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR)
    results: list[Result] = []
    echo = await run_echo(args.users, args.messages)
    print(echo.line(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await run_kefu(
            "Kefu, SQLite", f"sqlite:///{tmp}/bench.db", args.users, args.messages
        )
    print(sqlite.line(), flush=True)
    results.append(sqlite)
    pg_server = os.environ.get("KEFU_BENCH_POSTGRES_URL") or os.environ.get(
        "KEFU_TEST_POSTGRES_URL", PG_DEFAULT
    )
    pg_rate: Result | None = None
    if not args.no_postgres:
        url = create_database(pg_server, "kefu_bench")
        try:
            pg = await run_kefu("Kefu, PostgreSQL", url, args.users, args.messages)
            print(pg.line(), flush=True)
            results.append(pg)
        finally:
            drop_database(pg_server, url)
        url = create_database(pg_server, "kefu_bench")
        try:
            pg_rate = await run_kefu(
                f"Kefu, PostgreSQL @{args.rate:g}/s", url, args.users, 0, args.rate, args.seconds
            )
            print(pg_rate.line(), flush=True)
        finally:
            drop_database(pg_server, url)

    print()
    print(f"floor (echo): {echo.rate:.1f} msg/s, {1000 / echo.rate:.2f} ms/message")
    ok = True
    for r in results:
        ratio = echo.rate / r.rate if r.rate else float("inf")
        rate_ok = r.rate >= 300
        ratio_ok = ratio <= 1.5
        ok = ok and rate_ok and ratio_ok and not r.missing
        print(
            f"{r.name}: {1000 / r.rate:.2f} ms/message = {ratio:.2f}x the echo bot "
            f"[target <= 1.5x: {'ok' if ratio_ok else 'MISSED'}]; "
            f"{r.rate:.0f} msg/s [target >= 300: {'ok' if rate_ok else 'MISSED'}]"
        )
    if pg_rate is not None:
        p99_ok = pg_rate.pct(0.99) < 100
        ok = ok and p99_ok and not pg_rate.missing
        print(
            f"p99 at {args.rate:g} msg/s on PostgreSQL: {pg_rate.pct(0.99):.1f} ms "
            f"[target < 100 ms: {'ok' if p99_ok else 'MISSED'}]"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="per user")
    parser.add_argument("--rate", type=float, default=50.0, help="open-loop messages/s (PG)")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    parser.add_argument("--no-postgres", action="store_true")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
