"""Two real `kefu run` webhook workers on one PostgreSQL database against the fake Bot API
(issue 11 item 9): an agent answers a customer in a burst through one worker while the other
worker's outbox sweep runs every 50 ms. Each reply reaches the customer exactly once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from bot.agents.registry import add_agent
from bot.store.db import Database, sync_url
from bot.store.models import Message
from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.support import ROOT

GROUP = -1001000000911
SECRET = "workers-secret"
REPLIES = 40

pytestmark = [pytest.mark.postgres, pytest.mark.process]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(api: FakeBotAPI, db_url: str, tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KEFU_CONFIG": str(ROOT / "config.yml"),
        "KEFU_DATABASE_URL": db_url,
        "KEFU_VAR_DIR": str(tmp_path / "var"),
        "KEFU_TELEGRAM_BASE_URL": api.base_url,
        "KEFU_TELEGRAM__MODE": "webhook",
        "KEFU_TELEGRAM__WEBHOOK__LISTEN": "127.0.0.1",
        "KEFU_TELEGRAM__WEBHOOK__PORT": str(port),
        "KEFU_TELEGRAM__WEBHOOK__PATH": "/hook",
        "KEFU_TELEGRAM__RATE_LIMIT__PER_SECOND": "0",
        "KEFU_TELEGRAM__RATE_LIMIT__PER_CHAT_PER_SECOND": "0",
        "KEFU_TELEGRAM__RATE_LIMIT__GROUP_PER_MINUTE": "0",
        "KEFU_SLA__POLL_INTERVAL": "0.05",  # the outbox sweep, as often as it gets
        "KEFU_AGENT_GROUP_ID": str(GROUP),
        "KEFU_AGENTS__CALENDAR": "24x7",
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
    }
    log = (tmp_path / f"kefu-run-{port}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log, stderr=log
    )


@pytest.fixture
def workers(fake_api: FakeBotAPI, pg_url: str, tmp_path: Path) -> Iterator[list[str]]:
    ports = [_free_port(), _free_port()]
    processes = [_spawn(fake_api, pg_url, tmp_path, port) for port in ports]
    try:
        yield [f"http://127.0.0.1:{port}/hook" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


async def _until_up(url: str) -> None:
    health = url.replace("/hook", "/healthz")
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(1200):
            try:
                if (await client.get(health)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"worker at {url} did not start")


async def _until_all_sent(db_url: str, timeout: float = 30) -> int:
    """Poll the outbox on one engine (not one per look, every 50 ms) until every outgoing row
    is recorded as sent or ``timeout`` passes; how many are still unsent."""
    engine = create_engine(sync_url(db_url))
    query = (
        select(func.count())
        .select_from(Message)
        .where(Message.direction == "out", Message.sent_at.is_(None))
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            with engine.connect() as conn:
                unsent = int(conn.execute(query).scalar_one())
            if unsent == 0 or loop.time() > deadline:
                return unsent
            await asyncio.sleep(0.05)
    finally:
        engine.dispose()


async def test_an_agents_burst_reaches_the_customer_once_with_two_workers(
    fake_api: FakeBotAPI, pg_url: str, workers: list[str]
) -> None:
    relaying, sweeping = workers
    fake_api.group(GROUP, "Kefu agents", forum=True)
    db = Database(pg_url)
    await add_agent(db, 7101, name="Alice", role="agent", now=datetime.now(UTC))
    await db.dispose()
    alice = fake_api.user(7101, "Alice", username="alice")
    customer = fake_api.user(4901, "Chan", language_code="en")
    for url in workers:
        await _until_up(url)

    async def post(update: dict[str, object], url: str = relaying) -> None:
        answer = await fake_api.post_webhook(update, url=url, secret=SECRET)
        assert answer.status_code == 200

    await post(fake_api.text_update(customer, "/agent"), sweeping)
    await fake_api.until(lambda: any("reply_markup" in c.params for c in fake_api.sent(GROUP)), 60)
    card = next(c for c in fake_api.sent(GROUP) if "reply_markup" in c.params)
    thread = int(card.params["message_thread_id"])
    before = len(fake_api.sent(customer.id))
    await post(fake_api.callback_update(alice, chat_id=GROUP, message_id=card.result["message_id"]))
    await fake_api.until(lambda: len(fake_api.sent(customer.id)) > before, 30)  # "Alice is here"

    for i in range(REPLIES):
        await post(fake_api.group_update(alice, GROUP, f"answer-{i:02d}", thread_id=thread))
    texts = lambda: [t for t in fake_api.texts(customer.id) if "answer-" in t]  # noqa: E731
    await fake_api.until(lambda: len(set(texts())) == REPLIES, 60)
    assert await _until_all_sent(pg_url) == 0  # every row recorded as sent: no sender at it
    counts = Counter(texts())
    assert {t: n for t, n in counts.items() if n > 1} == {}
    assert len(counts) == REPLIES
