"""What every part of the Telegram channel shares: the engine it talks to, the outage rule,
and :class:`RecentKeys` (what was already pressed, answered, or delivered).

An update the channel cannot finish because the store or Telegram is down must come back:
:class:`RetryLater` says so to the poller (no acknowledgement) and the webhook (a 5xx).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from telegram.error import RetryAfter

from bot.messages import InboundMessage, OutboundMessage
from bot.store.db import Database, StoreUnavailable, is_outage

CHANNEL = "telegram"
# Failures after which an update must be delivered again. Kept for `except RETRYABLE`; the
# full rule (a serialization failure, a pool timeout...) is bot.store.db.is_outage.
RETRYABLE: tuple[type[BaseException], ...] = (
    StoreUnavailable,
    ConnectionError,
    TimeoutError,
    RetryAfter,
)


class RetryLater(Exception):
    """The update was not processed; it must be delivered again (do not acknowledge it)."""


class EngineLike(Protocol):
    """What the channel needs from :class:`bot.dialogue.engine.Engine`."""

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]: ...

    async def mark_sent(self, outbound_id: int, channel_message_id: str | None = None) -> None: ...

    async def mark_unreachable(self, channel: str, chat_id: str) -> None: ...

    async def unsent(
        self, channel: str, *, chat_id: str | None = None, limit: int = 500
    ) -> list[OutboundMessage]: ...

    async def claim(self, ids: Sequence[int]) -> tuple[str, set[int]]: ...

    async def renew(self, token: str, ids: Sequence[int]) -> set[int]: ...

    async def release(self, token: str, ids: Sequence[int]) -> None: ...


async def engine_call(awaitable: Awaitable[Any]) -> Any:
    """Await a store call: an outage becomes :class:`RetryLater` (the update comes back);
    a permanent error (a unique clash, a bad value) stays what it is, never retried."""
    try:
        return await awaitable
    except Exception as exc:
        if is_outage(exc) or isinstance(exc, RetryAfter):
            raise RetryLater(f"store unavailable: {exc}") from exc
        raise


def store_outage(db: Database | None, exc: Exception) -> Exception:
    """What to raise for ``exc`` met on a connection of the channel's own (not the engine's):
    an outage becomes :class:`RetryLater`, anything else stays itself."""
    if not is_outage(exc):
        return exc
    if db is not None and not isinstance(exc, StoreUnavailable):
        exc = db.unavailable(exc)
    return RetryLater(f"store unavailable: {exc}")


class RecentKeys:
    """A bounded set of recently seen keys."""

    def __init__(self, size: int = 20_000) -> None:
        self._items: OrderedDict[Any, float] = OrderedDict()
        self._size = size

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def add(self, key: Any) -> None:
        """Remember ``key``; the oldest is forgotten beyond the size."""
        self._items[key] = time.monotonic()
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def discard(self, key: Any) -> None:
        """Forget ``key`` (if it was there)."""
        self._items.pop(key, None)
