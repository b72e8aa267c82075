"""Fee reminders (#15 part 2) with real `kefu run` processes against the fake Bot API: held
while quiet hours last, exactly once across a crash and a restart, exactly once with two webhook
workers on one PostgreSQL database, and none for a unit whose payment finance confirmed
(`kefu fees confirm`, a real CLI process)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.fees.cli import add_fee_commands
from bot.fees.models import FeeReminder
from bot.followups.models import Followup
from bot.store.db import Database
from bot.store.models import Conversation, Message
from bot.tickets.service import open_ticket
from tests.fakes.bot_api import FakeBotAPI
from tests.fees.support import fee, household
from tests.telegram.processes import KefuRun, free_port
from tests.telegram.support import ROOT

pytestmark = pytest.mark.process

TZ = ZoneInfo("Asia/Hong_Kong")
ALWAYS = {"KEFU_FEES__REMINDERS__SEND_AT": "00:00", "KEFU_SLA__POLL_INTERVAL": "0.2"}


@pytest.fixture
def runs() -> Iterator[list[KefuRun]]:
    started: list[KefuRun] = []
    yield started
    for run in started:
        run.kill()


async def _units(db_url: str, chats: list[int], *, proofs: int = 0) -> list[str]:
    """A household per chat with a fee due today; the first ``proofs`` chats also sent a
    payment proof (ticket P-…) for it. Returns the proofs' numbers."""
    db = Database(db_url)
    now = datetime.now(TZ)
    numbers = []
    try:
        async with db.write() as s:
            for i, chat in enumerate(chats):
                unit, conversation_id = await household(
                    s,
                    f"9座{100 + i}室",
                    now=now,
                    phone=f"+85293{chat:06d}",
                    chat_id=str(chat),
                    channel="telegram",
                )
                await fee(s, unit, "2026-12", "management", "1800", now.date(), now=now)
                if i < proofs:
                    conversation = await s.get_one(Conversation, conversation_id)
                    ticket = await open_ticket(
                        s,
                        kind="payment",
                        category="payment_proof",
                        now=now,
                        actor="customer",
                        contact_id=conversation.contact_id,
                        conversation_id=conversation_id,
                        details={"amount": "1800.00"},
                    )
                    numbers.append(ticket.number)
    finally:
        await db.dispose()
    return numbers


def _confirm(db_url: str, number: str) -> str:
    """`kefu fees confirm` as finance runs it: a real CLI process."""
    env = {**os.environ, "KEFU_CONFIG": str(ROOT / "config.yml"), "KEFU_DATABASE_URL": db_url}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "fees", "confirm", number, "--by", "finance"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _confirm_in_process(db_url: str, number: str) -> str:
    """The same command inside the test (typer's runner, in a thread: it runs its own event
    loop): no process of its own where the point is the unit confirmed before any run."""
    fees = typer.Typer()
    add_fee_commands(fees)
    env = {"KEFU_CONFIG": str(ROOT / "config.yml"), "KEFU_DATABASE_URL": db_url}
    args = ["confirm", number, "--by", "finance"]
    done = await asyncio.to_thread(CliRunner().invoke, fees, args, env=env)
    assert done.exit_code == 0, done.output
    return done.output


async def _count(db_url: str, stmt: object) -> int:
    db = Database(db_url)
    try:
        async with db.session() as s:
            return int((await s.execute(stmt)).scalar_one())  # type: ignore[call-overload]
    finally:
        await db.dispose()


async def _until_count(db_url: str, stmt: object, want: int, timeout: float) -> int:
    """Poll ``stmt`` on one open database (not an engine per look) until it counts ``want`` or
    ``timeout`` passes; the last count."""
    db = Database(db_url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            async with db.session() as s:
                seen = int((await s.execute(stmt)).scalar_one())  # type: ignore[call-overload]
            if seen == want or loop.time() > deadline:
                return seen
            await asyncio.sleep(0.1)
    finally:
        await db.dispose()


def _reminders(api: FakeBotAPI, chat: int) -> list[str]:
    return [t for t in api.texts(chat) if "due today" in t]


def _thanks(api: FakeBotAPI, chat: int) -> list[str]:
    return [t for t in api.texts(chat) if "Finance has confirmed" in t]


async def test_quiet_hours_hold_the_reminder_until_they_end(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    """The real process reads the quiet hours from its environment and holds the day's
    reminder until they end: a pending follow-up due at their end, nothing sent, nothing
    queued, and a clean stop leaves it pending for the next run.

    Its release at the end is proven with a FrozenClock in-process (tests/fees/test_reminders.py,
    ``test_quiet_hours_hold_the_message_and_a_payment_meanwhile_stops_it``): waiting here in
    real time for the window to close (up to 85 s of wall time) proved nothing more than that,
    since the worker polls every 0.2 s either way (the crash-and-restart test below sees the
    same process send reminders that are due).
    """
    now = datetime.now(TZ)
    end = (now + timedelta(minutes=3)).replace(second=0, microsecond=0)  # 2-3 minutes away
    if end.date() != now.date():
        pytest.skip("too close to midnight for a quiet window that ends today")
    start = now - timedelta(hours=1) if now.hour >= 1 else now.replace(hour=0, minute=0)
    quiet = f"{start:%H:%M}-{end:%H:%M}"
    user = fake_api.user(5301, language_code="en")
    await _units(sqlite_url, [user.id])
    run = KefuRun(fake_api, sqlite_url, tmp_path, KEFU_SLA__QUIET_HOURS=quiet, **ALWAYS)
    runs.append(run)

    held = (
        select(func.count())
        .select_from(Followup)
        .where(
            Followup.kind == "fee_reminder", Followup.status == "pending", Followup.due_at == end
        )
    )
    assert await _until_count(sqlite_url, held, 1, 60) == 1, run.log()
    assert run.stop() == 0
    assert datetime.now(TZ) < end, "the quiet hours ended before the check: a slow machine"
    assert fake_api.texts(user.id) == []  # held, while the quiet hours last
    outgoing = select(func.count()).select_from(Message).where(Message.direction == "out")
    assert await _count(sqlite_url, outgoing) == 0  # not queued for sending either
    assert await _count(sqlite_url, held) == 1  # still there for the run after the stop


async def test_once_across_a_crash_and_a_restart_and_none_after_payment(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    users = [fake_api.user(5401 + i, language_code="en").id for i in range(4)]
    paid_first, paid_later = await _units(sqlite_url, users, proofs=2)
    await _confirm_in_process(sqlite_url, paid_first)  # before any run: never reminded
    quiet = {"KEFU_SLA__QUIET_HOURS": "", **ALWAYS}

    first = KefuRun(fake_api, sqlite_url, tmp_path, **quiet)
    runs.append(first)
    await fake_api.until(
        lambda: (
            all(len(_reminders(fake_api, u)) == 1 for u in users[1:])
            and len(_thanks(fake_api, users[0])) == 1
        ),
        120,
    )
    first.kill()  # a crash: no orderly stop

    _confirm(sqlite_url, paid_later)  # finance confirms the second unit meanwhile
    second = KefuRun(fake_api, sqlite_url, tmp_path, **quiet)
    runs.append(second)
    await fake_api.until(lambda: len(_thanks(fake_api, users[1])) == 1, 120)
    assert second.stop() == 0

    assert fake_api.texts(users[0]) == _thanks(fake_api, users[0])  # thanked, never reminded
    assert len(_reminders(fake_api, users[1])) == 1
    for user in users[1:]:
        assert len(_reminders(fake_api, user)) == 1, fake_api.texts(user)
    sent = select(func.count()).select_from(FeeReminder).where(FeeReminder.status == "sent")
    assert await _count(sqlite_url, sent) == 3


@pytest.mark.postgres
async def test_two_webhook_workers_send_each_unit_one_reminder(
    fake_api: FakeBotAPI, pg_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    users = [fake_api.user(5501 + i, language_code="en").id for i in range(25)]
    await _units(pg_url, users)
    common = {
        "KEFU_SLA__QUIET_HOURS": "",
        "KEFU_TELEGRAM__MODE": "webhook",
        "KEFU_TELEGRAM__WEBHOOK__LISTEN": "127.0.0.1",
        "KEFU_TELEGRAM__WEBHOOK__PATH": "/hook",
        "TELEGRAM_WEBHOOK_SECRET": "fees-secret",
        "KEFU_SLA__BATCH_SIZE": "2",
        **ALWAYS,
    }
    for _ in range(2):
        workdir = tmp_path / f"w{len(runs)}"
        workdir.mkdir()
        runs.append(
            KefuRun(
                fake_api, pg_url, workdir, KEFU_TELEGRAM__WEBHOOK__PORT=str(free_port()), **common
            )
        )
    await fake_api.until(lambda: all(_reminders(fake_api, u) for u in users), 150)
    unsent = (
        select(func.count())
        .select_from(Message)
        .where(Message.direction == "out", Message.sent_at.is_(None))
    )
    await _until_count(pg_url, unsent, 0, 30)
    for run in runs:
        assert run.stop() == 0
    assert {u: len(fake_api.texts(u)) for u in users} == {u: 1 for u in users}
    logs = "".join(run.log() for run in runs)
    assert "Traceback" not in logs
    # Both workers seeded the day's run: one follow-up for it.
    plans = select(func.count()).select_from(Followup).where(Followup.kind == "fee_plan")
    assert await _count(pg_url, plans) == 1
