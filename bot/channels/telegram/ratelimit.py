"""Outbound flow control for the Bot API, as a python-telegram-bot ``BaseRateLimiter``.

PTB's ``AIORateLimiter`` limits the whole bot and groups but not one private chat, and does not
retry network errors; Kefu needs both. Limits: the whole bot (about 30 messages/s), each private
chat (about 1/s, short bursts allowed), each group (20/min). A 429 pauses every request for its
``retry_after`` and retries; a network error (not a ``BadRequest``) is retried with exponential
backoff; anything else (403 blocked, 400) is raised at once for the caller to decide.

A request that creates something (a message, a copy, a topic) is repeated only when it surely
did not reach Telegram (no connection, a 429, a 5xx answer). When it was sent and its answer
was lost (:class:`~bot.channels.telegram.request.Unconfirmed`: a read timeout), Telegram may
have carried it out: repeating it would show the customer the message twice, so it is logged,
counted in :attr:`KefuRateLimiter.unconfirmed` and raised for the caller to record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.channels.telegram.request import Unconfirmed
from bot.metrics import UNCONFIRMED_SENDS

log = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]
# Requests that do not count as messages even though they name a chat.
_NOT_COUNTED = frozenset({"sendChatAction", "getChat", "getChatMember", "getChatAdministrators"})
_NEVER_RETRY_NETWORK = frozenset({"getUpdates"})  # the poller has its own loop
# Requests that are not "send..." but create something each time they are carried out.
_CREATING = frozenset(
    {"copyMessage", "copyMessages", "forwardMessage", "forwardMessages", "createForumTopic"}
)


def repeatable(endpoint: str) -> bool:
    """Whether carrying out ``endpoint`` twice does no harm (a read, an edit, a setting).

    Sends, copies, forwards and topic creations are not: each one makes something new.
    """
    if endpoint in _CREATING:
        return False
    return not endpoint.startswith("send") or endpoint == "sendChatAction"


def retry_after_seconds(exc: RetryAfter) -> float:
    """``retry_after`` in seconds, whatever PTB's timedelta setting is."""
    value: Any = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class KefuRateLimiter(BaseRateLimiter[int]):
    """Per-bot, per-chat and per-group limits with 429 and network-error retries.

    ``rate_limit_args`` of a request (PTB's ``rate_limit_args=``) overrides ``max_retries``.
    A rate of 0 turns that limit off.
    """

    def __init__(
        self,
        *,
        per_second: float = 30,
        per_chat_per_second: float = 1,
        per_chat_burst: int = 3,
        group_per_minute: float = 20,
        max_retries: int = 5,
        network_backoff: float = 0.5,
    ) -> None:
        self._overall = AsyncLimiter(per_second, 1) if per_second > 0 else None
        self._chat_rate = (
            (per_chat_burst, per_chat_burst / per_chat_per_second)
            if per_chat_per_second > 0 and per_chat_burst > 0
            else None
        )
        self._group_rate = (group_per_minute, 60.0) if group_per_minute > 0 else None
        self._chats: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self.max_retries = max_retries
        self.network_backoff = network_backoff
        self._paused_until = 0.0
        # Requests sent whose answer was lost and which were not repeated, per endpoint.
        self.unconfirmed: Counter[str] = Counter()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    def _chat_limiter(self, chat_id: Any) -> AsyncLimiter | None:
        group = isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit()
        with contextlib.suppress(TypeError, ValueError):
            group = group or int(chat_id) < 0
        rate = self._group_rate if group else self._chat_rate
        if rate is None:
            return None
        key = str(chat_id)
        limiter = self._chats.get(key)
        if limiter is None:
            limiter = self._chats[key] = AsyncLimiter(*rate)
            if len(self._chats) > 4096:  # forget idle chats
                for old_key, old in list(self._chats.items())[:1024]:
                    if old.has_capacity(old.max_rate):
                        del self._chats[old_key]
        else:
            self._chats.move_to_end(key)
        return limiter

    async def _wait_pause(self) -> None:
        delay = self._paused_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        """Run one Bot API request under the limits, retrying 429s and network errors."""
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        chat_id = data.get("chat_id")
        counted = chat_id is not None and endpoint not in _NOT_COUNTED
        attempt = 0
        while True:
            await self._wait_pause()
            try:
                if counted:
                    chat_limiter = self._chat_limiter(chat_id)
                    if chat_limiter is not None:
                        await chat_limiter.acquire()
                    if self._overall is not None:
                        await self._overall.acquire()
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= retries:
                    raise
                delay = retry_after_seconds(exc) + 0.05
                log.warning("429 on %s, retrying in %.1fs", endpoint, delay)
                self._paused_until = max(self._paused_until, time.monotonic() + delay)
            except BadRequest:
                raise
            except NetworkError as exc:
                if isinstance(exc, Unconfirmed) and not repeatable(endpoint):
                    self.unconfirmed[endpoint] += 1
                    UNCONFIRMED_SENDS.labels(endpoint).inc()
                    log.warning(
                        "%s to chat %s: no answer (%s); not repeated, it may have arrived",
                        endpoint,
                        chat_id,
                        exc,
                    )
                    raise
                if attempt >= retries or endpoint in _NEVER_RETRY_NETWORK:
                    raise
                delay = self.network_backoff * 2**attempt
                log.warning("network error on %s (%s), retrying in %.1fs", endpoint, exc, delay)
                await asyncio.sleep(delay)
            attempt += 1
