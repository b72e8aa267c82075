"""A real ``kefu run`` process against the fake Bot API, with its log in a file."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.support import ROOT


def free_port() -> int:
    """A TCP port nobody listens on right now (for a process's own server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class KefuRun:
    """``python -m bot run`` with its own log file; the settings come from the environment."""

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
            # Its own metrics port: 9108 may be taken by another kefu run on this machine.
            "KEFU_TELEGRAM__METRICS_PORT": str(free_port()),
            **env,
        }
        self.metrics_url = f"http://127.0.0.1:{environ['KEFU_TELEGRAM__METRICS_PORT']}/metrics"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=environ, stdout=log, stderr=log
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[str]:
        """What it logged so far, a line each."""
        return self.log().splitlines()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd stops a service; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    async def get(self, url: str, timeout: float = 90) -> httpx.Response:
        """GET ``url`` from the process's server, waiting (by retrying) until it listens."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                try:
                    return await client.get(url)
                except httpx.TransportError:
                    if loop.time() > deadline or self.process.poll() is not None:
                        raise AssertionError(f"nothing listens on {url}:\n{self.log()}") from None
                    await asyncio.sleep(0.1)
