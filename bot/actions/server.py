"""``kefu actions serve``: Kefu's actions behind rasa_sdk's own HTTP endpoint.

A Rasa server configured with ``action_endpoint: http://host:5055/webhook`` runs the same
actions the built-in engine runs in-process.
"""

from __future__ import annotations

from sanic import Sanic

from bot.actions import build_executor, runtime
from bot.clock import SystemClock
from bot.config import Settings
from bot.store.db import Database


def create_action_app(settings: Settings) -> Sanic:
    """The Sanic app serving ``/health``, ``/actions`` and ``/webhook``."""
    from rasa_sdk.endpoint import create_app

    db = Database(settings.database.url)
    if db.is_sqlite or settings.database.auto_migrate:
        db.upgrade()
    runtime.configure(runtime.Services(settings=settings, db=db, clock=SystemClock(settings.tz)))
    return create_app(build_executor(), cors_origins=None)


def serve(settings: Settings, *, host: str = "0.0.0.0", port: int = 5055) -> None:
    """Run the action server until interrupted."""
    app = create_action_app(settings)
    app.run(host=host, port=port, single_process=True, access_log=False, motd=False)
