"""The shop-backend HTTP adapter against a real local HTTP server: slow, 500, bad JSON."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import FrozenClock
from bot.config import OrderHTTPSettings, OrdersSettings
from bot.records.order_sources import HttpOrderSource, OrderSourceUnavailable
from bot.records.orders import ChallengeNeeded, Disclosed, OrderService, RecentOrders, Unavailable

TZ = ZoneInfo("Asia/Hong_Kong")
ORDER = {
    "id": "SO88412",
    "state": "Shipped",
    "customer": {"phone": "+852 9123 4567", "email": "amy@example.com"},
    "lines": [{"name": "Rice cooker", "quantity": 1}],
    "shipping": {"carrier": "SF Express", "tracking": "SF1234567890", "eta": "2026-11-28"},
    "updated": "2026-11-25T14:30:00+08:00",
}
FIELDS = {
    "order_id": "id",
    "status": "state",
    "phone": "customer.phone",
    "email": "customer.email",
    "items": "lines",
    "carrier": "shipping.carrier",
    "tracking_number": "shipping.tracking",
    "eta": "shipping.eta",
    "updated_at": "updated",
}


class Backend:
    """What the fake shop answers; tests change ``mode`` between calls."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.hits: list[tuple[str, dict[str, str]]] = []
        # "slow" answers only once the test is over: always after the client gave up.
        self.release = threading.Event()


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[Backend, str]]:
    state = Backend()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            state.hits.append((self.path, dict(self.headers.items())))
            mode = state.mode
            if self.headers.get("Authorization") != "Bearer s3cret":
                return self._send(401, b'{"error": "unauthorised"}')
            if mode == "slow":
                state.release.wait(30)
                return self._send(200, json.dumps(ORDER).encode())
            if mode == "500":
                return self._send(500, b"internal error")
            if mode == "bad_json":
                return self._send(200, b"{not json")
            if mode == "flaky" and len(state.hits) == 1:
                return self._send(503, b"try again")
            if self.path.startswith("/orders/SO88412"):
                return self._send(200, json.dumps(ORDER).encode())
            if self.path.startswith("/search"):
                other = dict(ORDER, id="SO1", customer={"phone": "+85261234567"})
                return self._send(200, json.dumps({"data": {"orders": [ORDER, other]}}).encode())
            return self._send(404, b'{"error": "not found"}')

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def backend(_server: tuple[Backend, str]) -> Iterator[tuple[Backend, str]]:
    """The module's fake shop, reset for this test (slow answers are let go after it)."""
    state, base = _server
    state.mode = "ok"
    state.hits.clear()
    state.release.clear()
    yield state, base
    state.release.set()


def make_source(base: str, **overrides: Any) -> HttpOrderSource:
    config = OrderHTTPSettings(
        url_template=base + "/orders/{order_id}",
        search_url_template=base + "/search?phone={phone}&email={email}",
        headers={"Authorization": "Bearer ${SHOP_TOKEN}"},
        timeout=0.3,
        retries=1,
        backoff=0,
        fields=FIELDS,
        orders_path="data.orders",
    )
    config = config.model_copy(update=overrides)
    return HttpOrderSource(config, tz=TZ, environ={"SHOP_TOKEN": "s3cret"})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_found_not_found_and_secret_header(
    backend: tuple[Backend, str], session: AsyncSession
) -> None:
    state, base = backend
    source = make_source(base)
    order = await source.get_order(session, "SO88412")
    assert order is not None
    assert (order.status, order.phone, order.carrier) == ("shipped", "+85291234567", "SF Express")
    assert order.items == "Rice cooker x1"
    assert order.eta is not None and order.eta.isoformat() == "2026-11-28"
    assert await source.get_order(session, "SO00000") is None
    assert state.hits[0][1]["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", ["slow", "500", "bad_json"])
async def test_failures_become_unavailable(
    backend: tuple[Backend, str], session: AsyncSession, mode: str
) -> None:
    state, base = backend
    state.mode = mode
    started = time.monotonic()
    with pytest.raises(OrderSourceUnavailable):
        await make_source(base).get_order(session, "SO88412")
    # bad JSON is not retried; timeouts and 5xx are (retries=1 -> 2 requests)
    assert len(state.hits) == (1 if mode == "bad_json" else 2)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_retry_recovers_from_one_503(
    backend: tuple[Backend, str], session: AsyncSession
) -> None:
    state, base = backend
    state.mode = "flaky"
    assert await make_source(base).get_order(session, "SO88412") is not None
    assert len(state.hits) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_missing_secret_or_bad_credentials_are_unavailable(
    backend: tuple[Backend, str], session: AsyncSession
) -> None:
    _, base = backend
    source = make_source(base)
    source._environ = {}
    with pytest.raises(OrderSourceUnavailable, match="SHOP_TOKEN"):
        await source.get_order(session, "SO88412")
    source._environ = {"SHOP_TOKEN": "wrong"}
    with pytest.raises(OrderSourceUnavailable, match="401"):
        await source.get_order(session, "SO88412")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_service_over_http(
    backend: tuple[Backend, str],
    session: AsyncSession,
    make_contact: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    state, base = backend
    svc = OrderService(make_source(base), OrdersSettings())
    owner = await make_contact(phone="+85291234567", verified=True)
    stranger = await make_contact(phone="+85298765432", verified=True)
    assert isinstance(await svc.lookup(session, owner, "SO88412", clock.now()), Disclosed)
    assert isinstance(await svc.lookup(session, stranger, "SO88412", clock.now()), ChallengeNeeded)
    recent = await svc.recent_orders(session, owner)
    # The backend also returned someone else's order; it is filtered out.
    assert isinstance(recent, RecentOrders) and [o.order_id for o in recent.orders] == ["SO88412"]
    state.mode = "500"
    down = await svc.lookup(session, owner, "SO88412", clock.now())
    assert isinstance(down, Unavailable)
    assert isinstance(await svc.recent_orders(session, owner), Unavailable)
