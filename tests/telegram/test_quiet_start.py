"""`kefu run` as an operator sees it: a short, useful start in the log, reconnects and a stop
that leave no unclosed HTTP sessions behind, and a SIGTERM obeyed even while connecting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.processes import KefuRun

pytestmark = pytest.mark.process


@pytest.fixture
def runs() -> Iterator[list[KefuRun]]:
    started: list[KefuRun] = []
    yield started
    for run in started:
        run.kill()


def _info_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if " INFO " in line]


async def test_start_is_quiet_and_reconnects_leak_nothing(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    fake_api.fail("getMe", "drop", times=2)  # Telegram unreachable at first
    run = KefuRun(fake_api, sqlite_url, tmp_path)
    runs.append(run)
    await fake_api.until(lambda: bool(fake_api.calls_to("getUpdates")), 90)
    fake_api.fail("getUpdates", "drop", times=2)  # the long poll's connection is cut twice
    # A send answered with a 502 is retried (a dropped send is not: it may have arrived).
    fake_api.fail("sendMessage", 502, times=1, chat_id=4101)
    user = fake_api.user(4101, language_code="en")
    fake_api.queue(fake_api.text_update(user, "hello"))
    await fake_api.until(lambda: len(fake_api.sent(user.id)) >= 1, 30)

    assert run.stop() == 0
    log = run.log()
    assert "rasa_sdk" not in log
    assert "Unclosed" not in log
    assert "Traceback" not in log
    info = _info_lines(log)
    # What an operator wants at start: version, mode, store, model, where it listens.
    assert len(info) <= 8, "\n".join(info)
    assert any("kefu 0.1.0" in line and "polling" in line and "sqlite" in line for line in info)
    assert any("polling Telegram as @kefu_test_bot" in line for line in info)
    assert any("metrics and health on http://127.0.0.1:" in line for line in info)


async def test_stop_while_telegram_is_unreachable_is_prompt_and_leaks_nothing(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    fake_api.fail("getMe", "drop", times=10_000)
    run = KefuRun(fake_api, sqlite_url, tmp_path)
    runs.append(run)
    await fake_api.until(lambda: len(fake_api.calls_to("getMe")) >= 2, 90)
    asked = time.monotonic()
    # systemd waits 90 s by default, then kills: a stop must not wait for the retries to end.
    assert run.stop(timeout=30) == 0
    assert time.monotonic() - asked < 10, run.log()
    log = run.log()
    assert "Unclosed" not in log
    assert "Traceback" not in log


async def test_database_down_at_start_is_one_line_and_exit_3(
    fake_api: FakeBotAPI, tmp_path: Path, runs: list[KefuRun]
) -> None:
    """Started before PostgreSQL (a boot race): one line, and exit code 3 for systemd to
    restart on, not a 150-line traceback."""
    down = "postgresql+psycopg://kefu@127.0.0.1:1/kefu"  # nothing listens on port 1
    run = KefuRun(fake_api, down, tmp_path)
    runs.append(run)
    assert run.process.wait(90) == 3
    log = run.log()
    assert "Traceback" not in log
    assert "cannot be reached" in log and "127.0.0.1:1" in log


async def test_webhook_start_retried_after_set_webhook_fails(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    """Telegram unreachable at setWebhook (after getMe worked): the start is retried from the
    beginning, the webhook port is bound again, and nothing leaks."""
    from tests.telegram.processes import free_port

    port = free_port()
    # max_retries 1: one call and one retry per attempt, so 2 drops fail the first attempt.
    fake_api.fail("setWebhook", "drop", times=2)
    run = KefuRun(
        fake_api, sqlite_url, tmp_path,
        KEFU_TELEGRAM__MODE="webhook",
        KEFU_TELEGRAM__WEBHOOK__PORT=str(port),
        KEFU_TELEGRAM__WEBHOOK__PUBLIC_URL=f"https://kefu.example.com:{port}/telegram",
        KEFU_TELEGRAM__RATE_LIMIT__MAX_RETRIES="1",
        KEFU_TELEGRAM__RATE_LIMIT__NETWORK_BACKOFF="0.05",
        TELEGRAM_WEBHOOK_SECRET="s3cret",
    )  # fmt: skip
    runs.append(run)
    await fake_api.until(lambda: any(c.ok for c in fake_api.calls_to("setWebhook")), 90)
    health = await run.get(f"http://127.0.0.1:{port}/healthz")
    assert health.status_code == 200
    assert run.stop() == 0
    log = run.log()
    assert "Traceback" not in log and "Unclosed" not in log, log
    assert "cannot reach Telegram" in log
