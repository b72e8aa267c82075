"""A real ``kefu run`` process against the fake Bot API, with its log in a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.support import ROOT


class KefuRun:
    """``python -m bot run`` in the worktree; ``log_lines`` reads what it logged so far."""

    def __init__(self, api: FakeBotAPI, db_url: str, tmp_path: Path, **env: str) -> None:
        self.log_path = tmp_path / "kefu-run.log"
        environ = {
            **os.environ,
            "KEFU_CONFIG": str(ROOT / "config.yml"),
            "KEFU_DATABASE_URL": db_url,
            "KEFU_VAR_DIR": str(tmp_path / "var"),
            "KEFU_TELEGRAM_BASE_URL": api.base_url,
            "KEFU_TELEGRAM__POLL_TIMEOUT": "1",
            "KEFU_TELEGRAM__RATE_LIMIT__PER_CHAT_PER_SECOND": "0",
            "TELEGRAM_BOT_TOKEN": api.token,
            **env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=environ, stdout=log, stderr=log
            )

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)
