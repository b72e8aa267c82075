"""``kefu actions serve``: Kefu's actions behind rasa_sdk's own HTTP endpoint.

A Rasa server configured with ``action_endpoint: {url: http://127.0.0.1:5055/webhook, token:
...}`` runs the same actions the built-in engine runs in-process. Two things differ from
rasa_sdk's plain server, because the actions here read and write customers' tickets:

* every request but ``/health`` must carry Rasa's ``action_endpoint.token`` as ``?token=``
  (rasa's ``EndpointConfig`` adds it as that query parameter), compared in constant time;
* who the customer is comes from the tracker's ``sender_id``, the conversation key Rasa sets
  from its input channel, never from ``latest_message.metadata``: Rasa passes a message's
  metadata through from whoever sent the message, so a ``contact_id`` there is the caller's
  claim. Each sender is a contact with a ``rasa`` channel identity; the metadata the actions
  see is rebuilt from it.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from rasa_sdk.executor import ActionExecutor, ActionExecutorRunResult
from sanic import Sanic, response
from sanic.request import Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.actions import build_executor, runtime
from bot.clock import SystemClock
from bot.config import Settings
from bot.events import EventBus, install
from bot.records.orders import AlertHook
from bot.store.db import Database
from bot.store.models import ChannelIdentity, Contact

log = logging.getLogger(__name__)

CHANNEL = "rasa"
OPEN_PATHS = frozenset({"/health"})


class MissingToken(Exception):
    """The server would accept requests from anyone: it does not start."""


async def contact_for_sender(sender_id: str) -> int | None:
    """The contact behind a Rasa ``sender_id`` (created on first sight); ``None`` if empty."""
    if not sender_id:
        return None
    services = runtime.services()
    sender_id = sender_id[:128]
    lookup = select(ChannelIdentity.contact_id).where(
        ChannelIdentity.channel == CHANNEL, ChannelIdentity.external_id == sender_id
    )
    async with services.db.session() as session:
        found = (await session.execute(lookup)).scalar_one_or_none()
    if found is not None:
        return int(found)
    now = services.clock.now()
    try:
        async with services.db.write() as session:
            contact = Contact(created_at=now, updated_at=now)
            session.add(contact)
            await session.flush()
            session.add(
                ChannelIdentity(
                    contact_id=contact.id,
                    channel=CHANNEL,
                    external_id=sender_id,
                    created_at=now,
                )
            )
            return int(contact.id)
    except IntegrityError:  # the same sender's first two calls at once: the other one won
        async with services.db.session() as session:
            return int((await session.execute(lookup)).scalar_one())


class SenderExecutor(ActionExecutor):
    """rasa_sdk's executor, with the tracker's metadata replaced by the sender's identity."""

    async def run(
        self, action_call: dict[str, Any], *args: Any, **kwargs: Any
    ) -> ActionExecutorRunResult | None:
        tracker = dict(action_call.get("tracker") or {})
        sender_id = str(tracker.get("sender_id") or "")
        latest = dict(tracker.get("latest_message") or {})
        contact_id = await contact_for_sender(sender_id)
        latest["metadata"] = (
            {"contact_id": contact_id, "channel": CHANNEL, "chat_id": sender_id}
            if contact_id is not None
            else {}
        )
        tracker["latest_message"] = latest
        return await super().run({**action_call, "tracker": tracker}, *args, **kwargs)


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison (a timing difference must not reveal the token)."""
    return hmac.compare_digest((given or "").encode(), token.encode())


def create_action_app(
    settings: Settings, *, order_alert: AlertHook | None = None, events: EventBus | None = None
) -> Sanic:
    """The Sanic app serving ``/health``, ``/actions`` and ``/webhook`` behind the token.
    ``order_alert`` hears of order lockouts and ``events`` are the domain events' listeners
    (``kefu actions serve`` passes the app's: a bad survey here reopens the agents' topic too)."""
    from rasa_sdk.endpoint import create_app

    token = settings.actions.token
    if not token:
        raise MissingToken(
            "actions serve: no token; set KEFU_ACTIONS_TOKEN (e.g. `openssl rand -hex 32`) "
            "and the same value as action_endpoint.token in Rasa's endpoints.yml"
        )
    db = Database(settings.database.url)
    if db.is_sqlite or settings.database.auto_migrate:
        db.upgrade()
    if events is not None:
        install(db.sessionmaker, events)
    runtime.configure(
        runtime.Services(
            settings=settings, db=db, clock=SystemClock(settings.tz), order_alert=order_alert
        )
    )
    app = create_app(build_executor(executor=SenderExecutor()), cors_origins=None)

    async def require_token(request: Request) -> response.HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if token_matches(request.args.get("token"), token):
            return None
        log.warning("action server: refused %s %s (no valid token)", request.method, request.path)
        return response.json({"error": "unauthorized"}, status=401)

    app.register_middleware(require_token, "request")
    return app


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    order_alert: AlertHook | None = None,
    events: EventBus | None = None,
) -> None:
    """Run the action server until interrupted (``actions.host``/``port`` unless given)."""
    app = create_action_app(settings, order_alert=order_alert, events=events)
    host = host or settings.actions.host
    if host not in ("127.0.0.1", "::1", "localhost"):
        log.warning(
            "action server listening on %s: keep the port private (firewall or TLS proxy); "
            "the token travels in the URL",
            host,
        )
    app.run(
        host=host,
        port=port or settings.actions.port,
        single_process=True,
        access_log=False,
        motd=False,
    )
