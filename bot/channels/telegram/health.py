"""``GET /healthz`` and ``GET /metrics`` over HTTP, for proxies, monitors and Prometheus.

Webhook mode mounts them on the webhook server (:func:`health_routes`); polling mode has no
server of its own, so :class:`MetricsServer` serves them on ``telegram.metrics_port``.

``/healthz`` answers 200 while the process runs (a liveness check: restarting Kefu does not
bring a database back) and says in its body whether the store answered; alert on
``kefu_store_up`` for that.
"""

from __future__ import annotations

import logging
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from bot.metrics import StoreProbe, render

log = logging.getLogger(__name__)


class HealthHandler(tornado.web.RequestHandler):
    def initialize(self, probe: StoreProbe | None, mode: str) -> None:
        self.probe = probe
        self.mode = mode

    async def get(self) -> None:
        body: dict[str, Any] = {"ok": True, "mode": self.mode}
        if self.probe is not None:
            body["store"] = "up" if await self.probe.refresh() else "down"
        self.finish(body)


class MetricsHandler(tornado.web.RequestHandler):
    def initialize(self, probe: StoreProbe | None) -> None:
        self.probe = probe

    async def get(self) -> None:
        if self.probe is not None:
            await self.probe.refresh()
        payload, content_type = render()
        self.set_header("Content-Type", content_type)
        self.finish(payload)


def health_routes(probe: StoreProbe | None, mode: str) -> list[Any]:
    """Tornado routes for ``/healthz`` and ``/metrics``."""
    return [
        (r"/healthz", HealthHandler, {"probe": probe, "mode": mode}),
        (r"/metrics", MetricsHandler, {"probe": probe}),
    ]


class MetricsServer:
    """``/healthz`` and ``/metrics`` on their own port (polling mode), in the running loop."""

    def __init__(self, probe: StoreProbe | None, *, listen: str, port: int, mode: str) -> None:
        self.listen = listen
        app = tornado.web.Application(health_routes(probe, mode))
        self._server = tornado.httpserver.HTTPServer(app)
        self._sockets = tornado.netutil.bind_sockets(port, listen)
        self.port = int(self._sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.listen}:{self.port}/metrics"

    def start(self) -> None:
        self._server.add_sockets(self._sockets)

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
