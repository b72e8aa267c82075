"""``kefu staff add`` and ``kefu web`` as an office runs them: real commands, real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app as kefu
from bot.config import load_settings
from bot.store.db import Database
from bot.web.models import StaffAccount
from bot.web.serve import NoSecret, web_secret

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]


def config_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(
        f"database:\n  url: {db_url}\ndialogues_dir: {ROOT / 'dialogues'}\n"
        f"models_dir: {ROOT / 'models'}\nvar_dir: {tmp_path / 'var'}\n"
        "web:\n  port: 0\n",
        encoding="utf-8",
    )
    return path


def test_staff_add_stores_only_a_hash_and_refuses_duplicates(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = str(config_file(tmp_path, sqlite_url))
    runner = CliRunner()
    added = runner.invoke(
        kefu,
        ["staff", "add", "Amy@Office.hk", "--name", "Amy", "--role", "supervisor",
         "--password-stdin", "--config", config],
        input="a long enough password\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added amy@office.hk (supervisor)" in added.output
    again = runner.invoke(
        kefu, ["staff", "add", "amy@office.hk", "--password-stdin", "--config", config],
        input="another long password\n",
    )  # fmt: skip
    assert again.exit_code == 2 and "already has an account" in again.output
    short = runner.invoke(
        kefu, ["staff", "add", "bob@office.hk", "--password-stdin", "--config", config],
        input="short\n",
    )  # fmt: skip
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    assert "Traceback" not in again.output + short.output

    async def stored() -> list[StaffAccount]:
        db = Database(sqlite_url)
        try:
            async with db.session() as session:
                return list(await session.scalars(select(StaffAccount)))
        finally:
            await db.dispose()

    (account,) = asyncio.run(stored())
    assert account.email == "amy@office.hk" and account.role == "supervisor"
    assert account.password_hash.startswith("$argon2")
    assert "a long enough password" not in account.password_hash


def kefu_process(config: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        cwd=ROOT, env={**environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_kefu_web_needs_its_secret(sqlite_url: str, tmp_path: Path) -> None:
    config = config_file(tmp_path, sqlite_url)
    process = kefu_process(config, "web")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "KEFU_WEB_SECRET" in err and "Traceback" not in err


async def test_kefu_web_serves_the_console_and_stops_on_sigterm(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = config_file(tmp_path, sqlite_url)
    process = kefu_process(config, "web", KEFU_WEB_SECRET="x" * 32)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 120)
        assert line.startswith("kefu web console on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1].strip()
        async with httpx.AsyncClient(base_url=url) as http:
            login = await http.get("/login")
            assert login.status_code == 200 and 'name="csrf"' in login.text
            assert (await http.get("/api/inbox")).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_kefu_run_with_the_console_enabled_refuses_a_missing_or_short_secret(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A missing secret through a real ``kefu run`` (exit code, one line, no traceback); a short
    one is refused by the same check (``web_secret``) on the same settings, without a second
    process (~4.5 s of CPU to start) that would prove nothing more."""
    config = config_file(tmp_path, sqlite_url)
    config.write_text(config.read_text().replace("web:\n", "web:\n  enabled: true\n"))
    process = kefu_process(config, "run", TELEGRAM_BOT_TOKEN="123:abc", KEFU_WEB_SECRET="")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "KEFU_WEB_SECRET" in err and "Traceback" not in err

    short = load_settings(config, environ={"KEFU_WEB_SECRET": "too short"})
    assert short.web.enabled
    with pytest.raises(NoSecret, match="KEFU_WEB_SECRET"):
        web_secret(short)
    assert web_secret(load_settings(config, environ={"KEFU_WEB_SECRET": "x" * 16})) == "x" * 16
