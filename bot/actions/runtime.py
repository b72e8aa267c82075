"""What actions may use besides the tracker: settings, clock and the store.

In-process (the engine runs actions through rasa_sdk's executor) an action joins the engine's
transaction, so a ticket and the conversation turn that opened it commit together or not at all.
Under ``kefu actions serve`` (a real Rasa action server) each action opens its own transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.records.orders import AlertHook
from bot.store.db import Database


@dataclass
class Services:
    """Process-wide dependencies of the actions."""

    settings: Settings
    db: Database
    clock: Clock
    # Who hears of an order lockout (the agents' group): wired by the process that builds the
    # services (bot.app, `kefu actions serve`), since actions sit below the agents' desk.
    # None: a warning in the log.
    order_alert: AlertHook | None = None


_services: Services | None = None
_session: ContextVar[AsyncSession | None] = ContextVar("kefu_action_session", default=None)


def configure(services: Services) -> None:
    """Install the services actions use (done once by the app at start)."""
    global _services
    _services = services


def services() -> Services:
    """The configured services; raises if the app did not configure them."""
    if _services is None:
        raise RuntimeError("bot.actions.runtime.configure() was not called")
    return _services


def bind_session(session: AsyncSession | None) -> object:
    """Make ``session`` the one actions use in this task (the engine's transaction)."""
    return _session.set(session)


def unbind_session(token: object) -> None:
    _session.reset(token)  # type: ignore[arg-type]


def in_process() -> bool:
    """Whether the action runs inside the engine's turn (not under ``kefu actions serve``, where
    the tracker and its metadata come from whoever calls the server)."""
    return _session.get() is not None


@asynccontextmanager
async def transaction() -> AsyncIterator[AsyncSession]:
    """The engine's session when running in-process, else a new write transaction."""
    current = _session.get()
    if current is not None:
        yield current
        return
    async with services().db.write() as session:
        yield session
