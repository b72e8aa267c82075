"""Long polling that acknowledges an update only after Kefu has processed it.

PTB's ``Updater`` moves the ``getUpdates`` offset past a batch as soon as it is fetched (and
acknowledges everything on shutdown), so an update whose processing failed would be lost. This
poller fetches, processes updates concurrently (the channel keeps each chat in order), and
sends as ``offset`` the lowest update not yet processed: Telegram keeps everything from there,
and a failed update (database down) comes back in the next batch, after a backoff.

Only an outage holds an update. One that fails for good, or that python-telegram-bot cannot
parse, is set aside as a dead letter (:mod:`.poison`) and acknowledged: it never stalls the
updates behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram.channel import RetryLater, TelegramChannel
from bot.channels.telegram.poison import PoisonUpdates
from bot.channels.telegram.ratelimit import retry_after_seconds

log = logging.getLogger(__name__)

ALLOWED_UPDATES: Sequence[str] = (
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
    "channel_post",
)


@dataclass(frozen=True)
class Fetched:
    """One update as ``getUpdates`` returned it: parsed, or the reason it could not be."""

    update_id: int
    raw: dict[str, Any]
    update: Update | None
    error: Exception | None = None


class Poller:
    """Fetch updates with ``getUpdates`` and hand them to the channel; never loses one."""

    def __init__(
        self,
        bot: Bot,
        channel: TelegramChannel,
        *,
        timeout: int = 30,
        limit: int = 100,
        max_in_flight: int = 1000,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        busy_wait: float = 0.1,
        read_timeout: float = 5.0,
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
        poison: PoisonUpdates | None = None,
    ) -> None:
        self.bot = bot
        self.channel = channel
        self.poison = poison or PoisonUpdates(channel)
        self.timeout = timeout
        self.limit = limit
        self.max_in_flight = max_in_flight
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.busy_wait = busy_wait
        self.read_timeout = read_timeout  # beyond the long-poll time
        self.allowed_updates = list(allowed_updates)
        self._running: dict[int, asyncio.Task[bool]] = {}
        self._unfinished: set[int] = set()  # running, or failed and waiting to come back
        self._done: set[int] = set()  # processed but maybe not acknowledged yet
        self._max_seen: int | None = None
        self._failures = 0  # consecutive rounds in which an update failed
        self._failed_this_round = False
        self._stop = asyncio.Event()

    @property
    def offset(self) -> int | None:
        """The ``getUpdates`` offset: the lowest unprocessed update, else past the last one."""
        if self._unfinished:
            return min(self._unfinished)
        return None if self._max_seen is None else self._max_seen + 1

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Poll until :meth:`stop`; then finish in-flight updates and acknowledge them."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        try:
            while not self._stop.is_set():
                if self._failed_this_round:
                    self._failed_this_round = False
                    self._failures = min(self._failures + 1, 16)
                    delay = min(self.max_backoff, self.backoff * 2 ** (self._failures - 1))
                    await self._sleep(delay)
                if self._running:
                    # Telegram's offset is one cursor: fetching new updates now would bring the
                    # running ones back too. Let the batch finish (or give slow ones a moment)
                    # so that usually the next fetch asks only for new updates.
                    await asyncio.wait(set(self._running.values()), timeout=self.busy_wait)
                    if len(self._running) >= self.max_in_flight:
                        continue
                updates = await self._fetch()
                if updates is not None:
                    self._dispatch(updates)
        finally:
            await self._drain()

    async def _fetch(self) -> tuple[Fetched, ...] | None:
        fetch = asyncio.ensure_future(self._get_updates())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            return None
        try:
            return fetch.result()
        except RetryAfter as exc:
            await self._sleep(retry_after_seconds(exc))
        except (InvalidToken, Conflict) as exc:
            log.error("getUpdates refused: %s", exc)
            await self._sleep(5)
        except (NetworkError, TelegramError) as exc:
            self._failed_this_round = True
            log.warning("getUpdates failed: %s", exc)
        except Exception:  # an answer we cannot read must not end polling
            self._failed_this_round = True
            log.exception("getUpdates answer not understood")
        return None

    async def _get_updates(self) -> tuple[Fetched, ...]:
        """``getUpdates``, parsing only updates not already running or done.

        Until an update is processed the offset cannot pass it, so every fetch made while
        updates run returns them again; ``Bot.get_updates`` would build PTB objects for all of
        them each time (most of a busy bot's CPU). Same request, same timeouts as PTB's.
        """
        timeout = 0 if self._running or self._failed_this_round else self.timeout
        # PTB's own get_updates is this same _post followed by de_list on every update.
        raw: list[dict[str, Any]] = await self.bot._post(
            "getUpdates",
            {
                "timeout": timeout,
                "offset": self.offset,
                "limit": self.limit,
                "allowed_updates": self.allowed_updates,
            },
            read_timeout=self.read_timeout + timeout,
        )
        fetched: list[Fetched] = []
        for data in raw or ():
            uid = data.get("update_id") if isinstance(data, dict) else None
            if not isinstance(uid, int) or uid in self._running or uid in self._done:
                continue
            try:
                fetched.append(Fetched(uid, data, Update.de_json(data, self.bot)))
            except Exception as exc:  # e.g. a field of a type PTB does not expect
                fetched.append(Fetched(uid, data, None, exc))
        return tuple(fetched)

    def _dispatch(self, updates: Sequence[Fetched]) -> int:
        started = 0
        for update in updates:
            uid = update.update_id
            if uid in self._running or uid in self._done:
                continue
            self._max_seen = uid if self._max_seen is None else max(self._max_seen, uid)
            self._unfinished.add(uid)
            task = asyncio.create_task(self._process(update), name=f"update-{uid}")
            self._running[uid] = task
            task.add_done_callback(functools.partial(self._finished, uid))
            started += 1
        offset = self.offset
        if offset is not None:
            self._done = {uid for uid in self._done if uid >= offset}
        return started

    async def _process(self, fetched: Fetched) -> bool:
        """Process one update; False when it must come back (an outage held it)."""
        try:
            if fetched.update is None:
                raise fetched.error or ValueError("not a Telegram update")
            await self.channel.process_update(fetched.update)
        except RetryLater as exc:
            # The store (or Telegram) says once that it is away; no line per update and round.
            log.debug("update %s held, will retry: %s", fetched.update_id, exc)
            return False
        except Exception as exc:
            # Would fail the same way forever: set it aside so the updates behind it go on.
            try:
                await self.poison.set_aside(fetched.raw, exc)
            except RetryLater:
                return False
        return True

    def _finished(self, uid: int, task: asyncio.Task[bool]) -> None:
        self._running.pop(uid, None)
        ok = not task.cancelled() and task.exception() is None and task.result()
        if ok:
            self._unfinished.discard(uid)
            self._done.add(uid)
            if not self._failed_this_round:
                self._failures = 0
        else:
            self._failed_this_round = True

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _drain(self, grace: float = 10.0) -> None:
        if self._running:
            await asyncio.wait(set(self._running.values()), timeout=grace)
        for task in list(self._running.values()):
            task.cancel()
        offset = self.offset
        if offset is not None:
            # Raw, like every fetch: PTB would parse the next update, which may be unreadable.
            with contextlib.suppress(TelegramError):
                await self.bot._post(
                    "getUpdates", {"offset": offset, "limit": 1, "timeout": 0}, read_timeout=5
                )
