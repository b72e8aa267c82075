"""Serving the console with uvicorn, on its own (``kefu web``) or inside ``kefu run``."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Sequence

import uvicorn
from starlette.routing import BaseRoute

from bot.clock import Clock
from bot.config import Settings
from bot.store.db import Database
from bot.web.app import create_app
from bot.web.console import Console

log = logging.getLogger(__name__)

SECRET_ENV = "KEFU_WEB_SECRET"
NO_SECRET = (
    f"the web console needs {SECRET_ENV} (at least 16 random characters) to sign its session "
    "cookies; set it in the environment, e.g. `export KEFU_WEB_SECRET=$(openssl rand -hex 32)`"
)


class NoSecret(Exception):
    """``KEFU_WEB_SECRET`` is missing or too short."""


def web_secret(settings: Settings) -> str:
    """The session secret (``web.secret``, from ``KEFU_WEB_SECRET``), or :class:`NoSecret`."""
    secret = settings.web.secret.get_secret_value().strip() if settings.web.secret else ""
    if len(secret) < 16:
        raise NoSecret(NO_SECRET)
    return secret


class ConsoleServer:
    """The console on ``web.listen:web.port`` (port 0: any free port, see :attr:`port`)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        *,
        secret: str,
        extra_routes: Sequence[BaseRoute] = (),
    ) -> None:
        app = create_app(settings, db, clock, secret=secret, extra_routes=extra_routes)
        self._console: Console = app.state.console
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._socket = socket.create_server((settings.web.listen, settings.web.port))
        self.port: int = self._socket.getsockname()[1]
        self._task: asyncio.Task[None] | None = None
        self.url = f"http://{settings.web.listen}:{self.port}"

    async def start(self) -> None:
        """Serve in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()
        log.info("web console on %s", self.url)

    async def stop(self) -> None:
        """Finish open requests and stop (live streams are closed)."""
        await self._console.live.close()  # ends the event streams, which would hold us up
        self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("web console did not stop within 10 s")
        self._socket.close()
