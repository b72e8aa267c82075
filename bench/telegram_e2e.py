"""Kefu on Telegram, end to end: throughput and latency through the real bot.

The bot runs in a process of its own, as it does in production: the real ``kefu run`` (polling)
pointed at the fake Bot API server with ``KEFU_TELEGRAM_BASE_URL``, on SQLite and on PostgreSQL;
and, in the same run, two bare python-telegram-bot echo bots (the framework floor) the same way:
one on PTB's default HTTP transport (httpx) and one on Kefu's (aiohttp, ``AiohttpRequest`` in
bot/channels/telegram/request.py). Against the httpx echo Kefu looks cheap, because httpx costs
1-4 ms of CPU per call; the aiohttp echo is the honest floor (same transport, no dialogue).
This process plays Telegram: it hosts the fake server, injects N users x M messages (each user
sends the next one once the reply came) and takes latency from an update being queued to the
bot's reply arriving (one ``perf_counter`` clock). The bot process's own CPU time per message is
read from /proc. A last run injects messages at a fixed rate on PostgreSQL for the p99 target.

    python bench/telegram_e2e.py [--users 50] [--messages 20] [--rate 50] [--seconds 10]
                                 [--repeat 3]

The bots run in ``--repeat`` interleaved rounds (a fresh bot process and database each run)
and the summary takes medians, ratios within a round: on a shared two-core machine one run of
the same bot varies by up to 40 %. Ratios are given for wall time per message (the targets) and
for the bot process's own CPU per message (on two cores, PostgreSQL, the fake server and the
load share the second core, so wall time also measures the machine).

Targets: (issue 4) one process >= 300 messages/s; per-message time <= 1.5x the httpx echo bot;
p99 < 100 ms at 50 messages/s on PostgreSQL; (issue 12) bot CPU per FAQ message <= 3x the
aiohttp echo bot's. Ticket-opening traffic through webhook workers: bench/repair_webhook.py.
The bot runs config.yml as shipped, except that rate limits are off (this measures Kefu, not
Telegram's caps) and long polls are short.
PostgreSQL: KEFU_BENCH_POSTGRES_URL (default the test server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    latencies: list[float]
    missing: int
    cpu_seconds: float = 0.0  # the bot process's CPU time (user + system) while measured

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_seconds / self.messages if self.messages else float("nan")

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.messages:>6} msgs {self.rate:>8.1f} msg/s "
            f"p50 {self.pct(0.5):>7.1f} ms  p99 {self.pct(0.99):>7.1f} ms  "
            f"bot CPU {self.cpu_ms:5.2f} ms/msg"
            + (f"  MISSING {self.missing}" if self.missing else "")
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


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

    async def warm_up(self, timeout: float = 180) -> None:
        """One message per user (start-up, NLU, pools, every contact exists); not measured."""
        for user in self.users:
            self.inject(user, "hello")
        await self.api.until(lambda: all(self.api.sent_count(u.id) for u in self.users), timeout)
        self.sent.clear()

    async def closed_loop(self, per_user: int, timeout: float = 60) -> float:
        async def one(user: FakeUser, offset: int) -> None:
            for m in range(per_user):
                index = self.inject(user, MESSAGES[(offset + m) % len(MESSAGES)])
                await self.api.until(functools.partial(self._replied, user.id, index), timeout)

        started = time.perf_counter()
        await asyncio.gather(*(one(u, i) for i, u in enumerate(self.users)))
        return time.perf_counter() - started

    async def open_loop(self, rate: float, seconds: float) -> float:
        total = int(rate * seconds)
        started = time.perf_counter()
        for n in range(total):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.inject(self.users[n % len(self.users)], MESSAGES[n % len(MESSAGES)])
        await self.api.until(
            lambda: all(self.api.sent_count(u.id) > i for u, _, i in self.sent[-len(self.users) :]),
            60,
        )
        return time.perf_counter() - started

    def result(self, name: str, seconds: float, cpu: float) -> Result:
        latencies: list[float] = []
        missing = 0
        times = {u.id: self.api.sent_times(u.id) for u in self.users}
        for user, at, index in self.sent:
            replies = times[user.id]
            if len(replies) > index:
                latencies.append(replies[index] - at)
            else:
                missing += 1
        return Result(name, len(self.sent), seconds, latencies, missing, cpu)


@contextlib.contextmanager
def bot_process(
    command: list[str], env: dict[str, str], log: Path, tree: Path = ROOT
) -> Iterator[int]:
    """Run a bot process (from source ``tree``); stop it with SIGINT (as Ctrl-C would)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tree)
    try:
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def measure(
    name: str,
    api: FakeBotAPI,
    command: list[str],
    env: dict[str, str],
    users: int,
    per_user: int,
    rate: float = 0,
    seconds: float = 0,
) -> Result:
    with (
        tempfile.TemporaryDirectory() as tmp,
        bot_process(command, env | {"KEFU_VAR_DIR": tmp}, Path(tmp) / "bot.log") as pid,
    ):
        load = Load(api, users, 10_000)
        try:
            await load.warm_up()
        except TimeoutError:
            sys.stderr.write((Path(tmp) / "bot.log").read_text(errors="replace")[-4000:])
            raise
        cpu = cpu_seconds(pid)
        if rate:
            elapsed = await load.open_loop(rate, seconds)
        else:
            elapsed = await load.closed_loop(per_user)
        return load.result(name, elapsed, cpu_seconds(pid) - cpu)


def echo_bot(transport: str) -> None:
    """The floor: a bare PTB echo bot (Updater polling, concurrent updates), in this process,
    on PTB's default transport (``httpx``) or Kefu's (``aiohttp``)."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    from bot.channels.telegram.request import AiohttpRequest

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message and update.message.text:
            await update.message.reply_text(update.message.text)

    base_url = os.environ["KEFU_TELEGRAM_BASE_URL"]
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(base_url)
        .base_file_url(base_url.replace("/bot", "/file/bot"))
        .concurrent_updates(256)
    )
    if transport == "aiohttp":
        builder = builder.request(AiohttpRequest(256)).get_updates_request(AiohttpRequest(1))
    else:
        builder = builder.connection_pool_size(256)
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.run_polling(timeout=1, poll_interval=0, close_loop=False)


def bot_env(api: FakeBotAPI, db_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEFU_", "TELEGRAM_"))}
    env |= {
        "TELEGRAM_BOT_TOKEN": api.token,
        "KEFU_TELEGRAM_BASE_URL": api.base_url,
        "KEFU_LOG_LEVEL": "WARNING",
        "KEFU_TELEGRAM__METRICS_PORT": "0",  # other benches and tests may hold the default
        "KEFU_TELEGRAM__POLL_TIMEOUT": "1",
        "KEFU_TELEGRAM__RATE_LIMIT__PER_SECOND": "0",
        "KEFU_TELEGRAM__RATE_LIMIT__PER_CHAT_PER_SECOND": "0",
        "KEFU_TELEGRAM__RATE_LIMIT__GROUP_PER_MINUTE": "0",
    }
    if db_url:
        env["KEFU_DATABASE_URL"] = db_url
    return env


ECHO = [sys.executable, str(Path(__file__).resolve()), "--echo-bot", "httpx"]
ECHO_AIOHTTP = [sys.executable, str(Path(__file__).resolve()), "--echo-bot", "aiohttp"]
HTTPX_ECHO = "PTB echo bot, httpx"
AIOHTTP_ECHO = "PTB echo bot, aiohttp"
KEFU = [sys.executable, "-c", "from bot.cli import main; main()", "run"]


async def closed_loop(
    name: str, command: list[str], db_url: Callable[[], AbstractContextManager[str]],
    users: int, per_user: int,
) -> Result:  # fmt: skip
    """One closed-loop measurement with a fresh bot process and database."""
    with db_url() as url, FakeBotAPI() as api:
        return await measure(name, api, command, bot_env(api, url), users, per_user)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


@contextlib.contextmanager
def no_database() -> Iterator[str]:
    yield ""


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    server = os.environ.get("KEFU_BENCH_POSTGRES_URL") or os.environ.get(
        "KEFU_TEST_POSTGRES_URL", PG_DEFAULT
    )
    url = create_database(server, "kefu_bench")
    try:
        yield url
    finally:
        drop_database(server, url)


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)", flush=True)
    users, per_user = args.users, args.messages
    bots: list[tuple[str, list[str], Callable[[], AbstractContextManager[str]]]] = [
        (HTTPX_ECHO, ECHO, no_database),
        (AIOHTTP_ECHO, ECHO_AIOHTTP, no_database),
        ("Kefu, SQLite", KEFU, sqlite_database),
    ]
    if not args.no_postgres:
        bots.append(("Kefu, PostgreSQL", KEFU, postgres_database))
    # Rounds interleave the bots, so that a machine that is slower for a while slows all of
    # them alike; each Kefu run is compared with the echo run of its own round.
    runs: dict[str, list[Result]] = {name: [] for name, _, _ in bots}
    for round_no in range(1, args.repeat + 1):
        for name, command, db in bots:
            result = await closed_loop(name, command, db, users, per_user)
            runs[name].append(result)
            print(f"round {round_no}  {result.line()}", flush=True)
    pg_rate: Result | None = None
    if not args.no_postgres:
        with postgres_database() as url, FakeBotAPI() as api:
            pg_rate = await measure(
                f"Kefu, PostgreSQL @{args.rate:g}/s", api, KEFU, bot_env(api, url),
                users, 0, args.rate, args.seconds,
            )  # fmt: skip
        print(pg_rate.line(), flush=True)

    ok = True
    for echo_name in (HTTPX_ECHO, AIOHTTP_ECHO):
        echo = runs[echo_name]
        echo_rate = median([r.rate for r in echo])
        print(
            f"\nfloor: {echo_name}, median of {args.repeat}: {echo_rate:.1f} msg/s, "
            f"{1000 / echo_rate:.2f} ms/message, bot CPU "
            f"{median([r.cpu_ms for r in echo]):.2f} ms/message"
        )
        ok = ok and not any(r.missing for r in echo)
    httpx_echo, aiohttp_echo = runs[HTTPX_ECHO], runs[AIOHTTP_ECHO]
    for name, results in runs.items():
        if name in (HTTPX_ECHO, AIOHTTP_ECHO):
            continue
        rate = median([r.rate for r in results])
        cpu = median([r.cpu_ms for r in results])

        def ratio(
            echo: list[Result], of: Callable[[Result], float], results: list[Result] = results
        ) -> float:
            return median([of(r) / of(e) for e, r in zip(echo, results, strict=True)])

        time_httpx = ratio(httpx_echo, lambda r: 1 / r.rate)
        time_aiohttp = ratio(aiohttp_echo, lambda r: 1 / r.rate)
        cpu_httpx = ratio(httpx_echo, lambda r: r.cpu_ms)
        cpu_aiohttp = ratio(aiohttp_echo, lambda r: r.cpu_ms)
        rate_ok, ratio_ok, cpu_ok = rate >= 300, time_httpx <= 1.5, cpu_aiohttp <= 3
        ok = ok and rate_ok and ratio_ok and cpu_ok and not any(r.missing for r in results)
        print(
            f"{name}: {1000 / rate:.2f} ms/message, {rate:.0f} msg/s "
            f"[target >= 300: {'ok' if rate_ok else 'MISSED'}]; bot CPU {cpu:.2f} ms/message\n"
            f"  vs the httpx echo (PTB's default transport): time {time_httpx:.2f}x "
            f"[target <= 1.5x: {'ok' if ratio_ok else 'MISSED'}], CPU {cpu_httpx:.2f}x\n"
            f"  vs the aiohttp echo (Kefu's transport): time {time_aiohttp:.2f}x, "
            f"CPU {cpu_aiohttp:.2f}x [target <= 3x: {'ok' if cpu_ok else 'MISSED'}]"
        )
    if pg_rate is not None:
        p99_ok = pg_rate.pct(0.99) < 100
        ok = ok and p99_ok and not pg_rate.missing
        print(
            f"p99 at {args.rate:g} msg/s on PostgreSQL: {pg_rate.pct(0.99):.1f} ms "
            f"[target < 100 ms: {'ok' if p99_ok else 'MISSED'}]"
        )
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="per user")
    parser.add_argument("--rate", type=float, default=50.0, help="open-loop messages/s (PG)")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--echo-bot", choices=["httpx", "aiohttp"], help=argparse.SUPPRESS)
    cli = parser.parse_args()
    if cli.echo_bot:
        echo_bot(cli.echo_bot)
        raise SystemExit(0)
    raise SystemExit(asyncio.run(main(cli)))
