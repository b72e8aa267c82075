"""One poison update never stalls the bot (issue 11 item 6): an update whose message can never
be stored, or that python-telegram-bot cannot parse, is kept as a dead letter, its user is told
once, and every update behind it is answered; in polling (a real ``kefu run``) and webhook mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.app import build_app
from bot.channels.telegram import TelegramBot
from bot.channels.telegram.updates_cli import updates_app
from bot.clock import FrozenClock
from tests.fakes.bot_api import FakeBotAPI, FakeUser
from tests.telegram.processes import KefuRun
from tests.telegram.support import ROOT, tg_settings

pytestmark = pytest.mark.process

SECRET = "poison-secret"
SORRY = "could not process your last message"


def _clash(api: FakeBotAPI, update: dict[str, Any]) -> dict[str, Any]:
    """The same message again under a new update id: storing it clashes with the first."""
    return {"update_id": api.next_update_id(), "message": dict(update["message"])}


def _unparseable(api: FakeBotAPI, user: FakeUser) -> dict[str, Any]:
    """A message python-telegram-bot cannot read (its date is not a number)."""
    update = api.text_update(user, "hello")
    update["message"]["date"] = "tomorrow"
    return update


def _failed_updates(db_url: str, tmp_path: Path) -> list[dict[str, Any]]:
    """``kefu updates failed --json`` as a real process."""
    env = {
        **os.environ,
        "KEFU_CONFIG": str(ROOT / "config.yml"),
        "KEFU_DATABASE_URL": db_url,
        "KEFU_VAR_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "updates", "failed", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    letters: list[dict[str, Any]] = json.loads(done.stdout)
    return letters


async def _failed_updates_in_process(db_url: str, tmp_path: Path) -> list[dict[str, Any]]:
    """The same command inside the test (typer's runner, in a thread: it runs its own event
    loop). The polling test keeps the real process for it; each cost ~4.5 s of CPU."""
    env = {
        "KEFU_CONFIG": str(ROOT / "config.yml"),
        "KEFU_DATABASE_URL": db_url,
        "KEFU_VAR_DIR": str(tmp_path / "var"),
    }
    args = ["failed", "--json"]
    done = await asyncio.to_thread(CliRunner().invoke, updates_app, args, env=env)
    assert done.exit_code == 0, done.output
    letters: list[dict[str, Any]] = json.loads(done.stdout)
    return letters


# On SQLite only, the embedded default for one polling process: the same poison on PostgreSQL
# is proven in-process (the webhook test below on both, the data-error test on PostgreSQL);
# a second `kefu run` and CLI process here cost ~10 s of CPU and proved no more.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_poison_updates_in_polling_never_stall_the_users_behind_them(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str
) -> None:
    kefu = KefuRun(fake_api, db_url, tmp_path)
    try:
        await fake_api.until(lambda: bool(fake_api.calls_to("getUpdates")), 90)
        clashing = fake_api.user(5001, language_code="en")
        broken = fake_api.user(5002, language_code="zh-hk")
        first = fake_api.text_update(clashing, "hello")
        fake_api.queue(first)
        await fake_api.until(lambda: len(fake_api.sent(clashing.id)) == 1, 30)
        poison = fake_api.queue(_clash(fake_api, first), _unparseable(fake_api, broken))
        # Telegram hands out 100 updates a time: 100 behind the poison would never be fetched
        # while the poison held the offset.
        users = [fake_api.user(5100 + n, language_code="en") for n in range(100)]
        later = fake_api.queue(*(fake_api.text_update(u, "hello") for u in users))
        await fake_api.until(
            lambda: not set(poison + later) & set(fake_api.pending_update_ids()), 60
        )
        await fake_api.until(lambda: all(fake_api.sent(u.id) for u in users), 30)
        # Each poison update's user is told once, in their language.
        await fake_api.until(lambda: len(fake_api.sent(broken.id)) == 1, 10)
        assert SORRY in fake_api.texts(clashing.id)[1]
        assert "未能處理" in fake_api.texts(broken.id)[0]
        # Operators see them on /metrics (an alert worth setting: any increase).
        metrics = (await kefu.get(kefu.metrics_url)).text
        assert "kefu_dead_letters_total 2.0" in metrics, metrics
    finally:
        kefu.kill()
    assert len(fake_api.sent(clashing.id)) == 2
    # (The module's tests share one PostgreSQL database: other tests' letters are there too.)
    letters = {int(letter["delivery_id"]): letter for letter in _failed_updates(db_url, tmp_path)}
    assert set(poison) <= set(letters)
    clash, unreadable = letters[poison[0]], letters[poison[1]]
    assert "IntegrityError" in clash["error_class"] and clash["chat_id"] == str(clashing.id)
    assert clash["payload"]["message"]["text"] == "hello"
    assert "TypeError" in unreadable["error_class"]
    assert unreadable["payload"]["message"]["date"] == "tomorrow"
    assert all(letter["attempts"] == 1 for letter in letters.values())
    log = kefu.log_lines()
    assert sum("set aside as a dead letter" in line for line in log) == 2, "\n".join(log)


async def test_a_poison_update_in_a_webhook_is_answered_200_once_and_kept(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any
) -> None:
    settings = tg_settings(
        fake_api, tmp_path, db_url, mode="webhook",
        webhook={"listen": "127.0.0.1", "port": 0, "path": "/hook"},
    )  # fmt: skip
    app = build_app(settings, clock=clock, interpreter=interpreter)
    bot = TelegramBot(settings, app.engine, token=fake_api.token, db=app.db, webhook_secret=SECRET)
    await bot.start()
    try:
        assert bot.webhook is not None
        url = bot.webhook.url

        async def post(update: dict[str, Any]) -> int:
            return (await fake_api.post_webhook(update, url=url, secret=SECRET)).status_code

        user, other = fake_api.user(5201, language_code="en"), fake_api.user(5202)
        first = fake_api.text_update(user, "hello")
        assert await post(first) == 200
        clash, broken = _clash(fake_api, first), _unparseable(fake_api, other)
        # 200, so Telegram stops redelivering; a redelivery is counted, not answered again.
        for _ in range(2):
            assert await post(clash) == 200
            assert await post(broken) == 200
        assert await post(fake_api.text_update(user, "hello again")) == 200
        texts = fake_api.texts(user.id)
        assert len(texts) == 3 and SORRY in texts[1], texts
        assert len(fake_api.sent(other.id)) == 1
        from bot.store.deadletters import list_dead_letters

        letters = {int(d.delivery_id): d for d in await list_dead_letters(app.db)}
        assert [letters[clash["update_id"]].attempts, letters[broken["update_id"]].attempts] == [
            2,
            2,
        ]
    finally:
        await bot.stop()
        await app.close()


async def test_kefu_updates_retry_feeds_a_dead_letter_through_again(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str
) -> None:
    from datetime import UTC, datetime

    from bot.store.db import Database
    from bot.store.deadletters import record_dead_letter

    # Set aside by a bug since fixed: the update itself is ordinary.
    user = fake_api.user(5501, language_code="en")
    update = fake_api.text_update(user, "hello")
    db = Database(db_url)
    try:
        await record_dead_letter(
            db,
            channel="telegram",
            delivery_id=str(update["update_id"]),
            payload=update,
            exc=RuntimeError("a bug, since fixed"),
            now=datetime.now(UTC),
            chat_id=str(user.id),
        )
    finally:
        await db.dispose()
    (letter,) = [
        d
        for d in await _failed_updates_in_process(db_url, tmp_path)
        if d["delivery_id"] == str(update["update_id"])
    ]
    env = {
        "KEFU_CONFIG": str(ROOT / "config.yml"),
        "KEFU_DATABASE_URL": db_url,
        "KEFU_VAR_DIR": str(tmp_path / "var"),
        "KEFU_TELEGRAM_BASE_URL": fake_api.base_url,
        "TELEGRAM_BOT_TOKEN": fake_api.token,
    }
    args = ["retry", str(letter["id"])]
    if db_url.startswith("sqlite"):
        # In this process on SQLite (typer's runner, in a thread: it runs its own event loop);
        # the real `kefu updates retry` process is the PostgreSQL run's, the shared store an
        # office retries on. Another process here cost ~5 s of CPU and proved no more.
        retried = await asyncio.to_thread(CliRunner().invoke, updates_app, args, env=env)
        assert retried.exit_code == 0, retried.output
    else:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "updates", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert "Hello" in fake_api.texts(user.id)[0]
    assert str(update["update_id"]) not in {
        d["delivery_id"] for d in await _failed_updates_in_process(db_url, tmp_path)
    }


@pytest.mark.postgres
async def test_a_data_error_is_kept_too_and_the_next_user_answered(
    fake_api: FakeBotAPI, tmp_path: Path, pg_url: str, clock: FrozenClock, interpreter: Any
) -> None:
    """A value PostgreSQL refuses (a NUL in the sender's name) fails every delivery alike."""
    settings = tg_settings(fake_api, tmp_path, pg_url)
    app = build_app(settings, clock=clock, interpreter=interpreter)
    bot = TelegramBot(settings, app.engine, token=fake_api.token, db=app.db)
    await bot.start()
    try:
        odd, next_one = fake_api.user(5601, "Nul\x00l", language_code="en"), fake_api.user(5602)
        ids = fake_api.queue(
            fake_api.text_update(odd, "hello"), fake_api.text_update(next_one, "hello")
        )
        await fake_api.until(lambda: not set(ids) & set(fake_api.pending_update_ids()), 20)
        await fake_api.until(lambda: bool(fake_api.sent(next_one.id)), 10)
        assert [SORRY in t for t in fake_api.texts(odd.id)] == [True]
        from bot.store.deadletters import list_dead_letters

        (letter,) = [d for d in await list_dead_letters(app.db) if d.delivery_id == str(ids[0])]
        assert "DataError" in letter.error_class
    finally:
        await bot.stop()
        await app.close()
