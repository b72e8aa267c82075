"""Webhook mode: an HTTP endpoint that answers Telegram only after the update is processed.

PTB's own webhook server queues the update and answers 200 at once; Kefu answers 200 only
once the update is handled (so a database outage answers 503 and Telegram delivers it again),
200 too for an update set aside as a dead letter (it would fail the same way on every
redelivery, or cannot even be parsed: see :mod:`.poison`), 403 without the right
``X-Telegram-Bot-Api-Secret-Token``, and serves ``GET /healthz`` for the reverse proxy's
health checks.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import Bot, Update

from bot.channels.telegram.channel import RetryLater, TelegramChannel
from bot.channels.telegram.poison import PoisonUpdates

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class _UpdateHandler(tornado.web.RequestHandler):
    def initialize(
        self, channel: TelegramChannel, bot: Bot, secret: str | None, poison: PoisonUpdates
    ) -> None:
        self.channel = channel
        self.bot = bot
        self.secret = secret
        self.poison = poison

    def check_xsrf_cookie(self) -> None:
        return

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    async def post(self) -> None:
        if self.secret is not None:
            given = self.request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                log.warning("webhook call without the right secret from %s", self.request.remote_ip)
                self._reply(403, {"ok": False, "error": "forbidden"})
                return
        try:
            data = json.loads(self.request.body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            self._reply(400, {"ok": False, "error": "not a Telegram update"})
            return
        try:
            try:
                update = Update.de_json(data, self.bot)
                await self.channel.process_update(update)
            except RetryLater:
                raise
            except Exception as exc:
                # Every redelivery would fail the same way: keep it, answer 200, go on.
                await self.poison.set_aside(data, exc)
        except RetryLater as exc:
            # The store says once that it is away; no line per request.
            log.debug("update %s held, Telegram will retry: %s", data["update_id"], exc)
            self.set_header("Retry-After", "5")
            self._reply(503, {"ok": False, "error": "temporarily unavailable"})
            return
        self._reply(200, {"ok": True})


class _HealthHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish({"ok": True})


class WebhookServer:
    """The webhook HTTP server (tornado, in the running event loop)."""

    def __init__(
        self,
        channel: TelegramChannel,
        bot: Bot,
        *,
        listen: str,
        port: int,
        path: str,
        secret: str | None,
        routes: Sequence[Any] = ((r"/healthz", _HealthHandler),),
        poison: PoisonUpdates | None = None,
    ) -> None:
        """``routes``: what else the server answers (``/healthz``, ``/metrics``)."""
        poison = poison or PoisonUpdates(channel)
        self.listen = listen
        self.path = "/" + path.strip("/")
        handler = {"channel": channel, "bot": bot, "secret": secret, "poison": poison}
        app = tornado.web.Application(
            [
                (self.path, _UpdateHandler, handler),
                *routes,
            ]
        )
        self._server = tornado.httpserver.HTTPServer(app, xheaders=True)
        self._sockets = tornado.netutil.bind_sockets(port, listen)
        self.port = int(self._sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.listen}:{self.port}{self.path}"

    def start(self) -> None:
        self._server.add_sockets(self._sockets)

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
