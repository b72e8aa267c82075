"""The owner evaluation (#15 part 3) with a real `kefu run` against the fake Bot API: a
campaign started by `kefu evaluation start` (a real CLI process) is asked in each linked chat
once, answered with an inline button and typed words, and `kefu evaluation status` shows the
response rate and who is missing (the chat that did not answer, the household on the phone).
`kefu evaluation status` runs inside the test (typer's runner): one ~4.5 s CPU process fewer,
and what it prints is the same."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bot.evaluation.cli import evaluation_app
from bot.evaluation.models import EvaluationTarget
from bot.store.db import Database
from tests.fakes.bot_api import FakeBotAPI
from tests.fees.support import household
from tests.telegram.processes import KefuRun
from tests.telegram.support import ROOT

pytestmark = pytest.mark.process

TZ = ZoneInfo("Asia/Hong_Kong")
ENV = {"KEFU_EVALUATION__SHARE": "1", "KEFU_SLA__QUIET_HOURS": "", "KEFU_SLA__POLL_INTERVAL": "0.2"}


@pytest.fixture
def runs() -> Iterator[list[KefuRun]]:
    started: list[KefuRun] = []
    yield started
    for run in started:
        run.kill()


def _kefu(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **ENV,
        "KEFU_CONFIG": str(ROOT / "config.yml"),
        "KEFU_DATABASE_URL": db_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _kefu_in_process(db_url: str, *args: str) -> Result:
    """``kefu evaluation …`` inside the test, in a thread (it runs its own event loop)."""
    env = {**ENV, "KEFU_CONFIG": str(ROOT / "config.yml"), "KEFU_DATABASE_URL": db_url}
    return await asyncio.to_thread(CliRunner().invoke, evaluation_app, list(args), env=env)


async def _households(db_url: str, users: list[int]) -> None:
    db = Database(db_url)
    now = datetime.now(TZ)
    try:
        async with db.write() as s:
            for i, user in enumerate(users):
                await household(
                    s,
                    f"4座{500 + i}室",
                    now=now,
                    phone=f"+85296{user:06d}",
                    chat_id=str(user),
                    channel="telegram",
                    language="en",
                )
            await household(s, "4座599室", now=now, phone="+85296999999", chat_id=None)
    finally:
        await db.dispose()


async def _answered(db_url: str) -> dict[str, int]:
    db = Database(db_url)
    try:
        async with db.session() as s:
            rows = (await s.scalars(select(EvaluationTarget))).all()
            return {t.unit_key: len(t.scores or {}) for t in rows if t.status == "answered"}
    finally:
        await db.dispose()


async def test_asked_once_answered_with_buttons_and_words_and_status(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    answering = fake_api.user(5601, language_code="en")
    silent = fake_api.user(5602, language_code="en")
    await _households(sqlite_url, [answering.id, silent.id])
    started = _kefu(sqlite_url, "evaluation", "start", "--seed", "11")
    assert started.returncode == 0 and "(seed 11)" in started.stdout, started.stderr

    run = KefuRun(fake_api, sqlite_url, tmp_path, **ENV)
    runs.append(run)
    for user in (answering, silent):
        await fake_api.until(
            lambda u=user: any("owner evaluation" in t for t in fake_api.texts(u.id)), 120
        )
    fake_api.queue(fake_api.callback_update(answering, text="5 Very good"))
    await fake_api.until(lambda: any("Cleaning" in t for t in fake_api.texts(answering.id)), 30)
    for answer, then in (("4", "Repairs"), ("good", "Customer service"), ("3", "Gardens")):
        fake_api.queue(fake_api.text_update(answering, answer))
        await fake_api.until(lambda t=then: any(t in x for x in fake_api.texts(answering.id)), 30)
    fake_api.queue(fake_api.text_update(answering, "5"))
    await fake_api.until(lambda: any("comments" in t for t in fake_api.texts(answering.id)), 30)
    fake_api.queue(fake_api.text_update(answering, "no"))
    await fake_api.until(
        lambda: any("Thank you for your feedback" in t for t in fake_api.texts(answering.id)), 30
    )
    assert list((await _answered(sqlite_url)).values()) == [5]
    assert run.stop() == 0

    invites = [t for t in fake_api.texts(silent.id) if "owner evaluation" in t]
    assert len(invites) == 1 and len(fake_api.texts(silent.id)) == 1
    status = await _kefu_in_process(sqlite_url, "status")
    assert status.exit_code == 0, status.output
    assert "3 of 3 households sampled (2 by chat, 1 by phone); 1 answered (33.3%)" in status.stdout
    missing = [line for line in status.stdout.splitlines() if "missing" in line]
    assert len(missing) == 2 and any("phone" in line for line in missing)
