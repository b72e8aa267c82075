"""Live updates for every open console page from ONE poller per process.

Each browser keeps a server-sent-events stream open. Instead of each stream querying the
database, one task reads a change marker (:func:`bot.web.queries.change_marker`) every
``web.poll_interval`` and bumps a version; streams wait on that. Fifty staff cost one small
query per interval, not fifty. Changes made by other processes (the bot, workers, the CLI)
are seen because the marker comes from the database, not from this process's own writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from bot.store.db import Database
from bot.web.queries import change_marker

log = logging.getLogger(__name__)


class LiveFeed:
    """A version number that moves when tickets or messages change."""

    def __init__(self, db: Database, interval: timedelta) -> None:
        self._db = db
        self._interval = interval.total_seconds()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.version = 0
        self.closed = False

    def _ensure_polling(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="kefu-web-live")

    async def _poll(self) -> None:
        last: object = None
        while True:
            try:
                async with self._db.session() as session:
                    marker = await change_marker(session)
            except Exception as exc:  # the database may be away for a while; keep polling
                log.warning("live view cannot read changes: %s", exc)
            else:
                if last is not None and marker != last:
                    self.version += 1
                    self._changed.set()
                    self._changed = asyncio.Event()
                last = marker
            await asyncio.sleep(self._interval)

    async def next_change(self, seen: int, timeout: float) -> int:
        """Wait until the version differs from ``seen`` (or ``timeout`` passes); the version."""
        if self.closed:
            return self.version
        self._ensure_polling()
        if self.version != seen:
            return self.version
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version

    async def close(self) -> None:
        """Stop polling and release every waiting stream (at shutdown: open event streams
        would otherwise keep the server waiting for them)."""
        self.closed = True
        self._changed.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
