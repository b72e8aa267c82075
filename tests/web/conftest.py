"""Fixtures for the console tests: the module's database, emptied before each test; the
console's server with the web chat on a real engine (``served``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import build_app
from bot.channels.web.routes import chat_routes
from bot.clock import FrozenClock
from bot.config import Settings
from bot.config.web import ChatSettings
from bot.records.importing import import_file
from bot.store.db import Database
from bot.web.serve import ConsoleServer
from tests.web.chat_support import ORDERS, SHOP, CodeRecorder, Served
from tests.web.support import SECRET


@pytest.fixture
def db(emptied_db: Database) -> Database:
    """The shared ``db``, emptied first: the PostgreSQL database lives for the whole module."""
    return emptied_db


@pytest.fixture
async def served(
    db: Database, settings: Settings, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[Served]:
    """The console's server on a free port with the web chat (the shop's origin allowed, small
    limits), an order of the shopper's phone imported, and codes recorded instead of sent."""
    chat = ChatSettings(
        enabled=True, allowed_origins=[SHOP], rate_per_minute=6, max_message_chars=200,
        upload_max_bytes=1000, poll_interval="0.2s",
    )  # fmt: skip
    web = settings.web.model_copy(update={"port": 0, "chat": chat})
    configured = settings.model_copy(update={"web": web})
    app = build_app(configured, clock=clock, interpreter=interpreter, migrate=False)
    path = configured.var_dir / "orders.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ORDERS.lstrip(), encoding="utf-8")
    async with app.db.write() as session:
        assert (await import_file(session, "orders", path, configured, clock.now())).ok
    codes = CodeRecorder()
    server = ConsoleServer(
        configured, app.db, clock, secret=SECRET,
        extra_routes=chat_routes(app, secret=SECRET, sender=codes),
    )  # fmt: skip
    await server.start()
    try:
        yield Served(app, server, codes)
    finally:
        await server.stop()
        await app.close()
