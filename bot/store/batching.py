"""Group commit: many small writes that arrive together share one transaction.

Under load, dozens of turns confirm a delivery at the same moment, each paying a round trip and
the driver's per-statement cost for a one-row UPDATE. :class:`GroupCommit` writes the first
item at once and, while that write is in flight, gathers what arrives meanwhile into the next
batch. Every caller still returns only once its own item is committed (or gets the error), so
nothing is acknowledged before it is durable, and an idle process writes as soon as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from bot.store.db import is_outage

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Calls ``write`` with batches of the items given to :meth:`add`, one batch at a time."""

    def __init__(self, write: Callable[[Sequence[T]], Awaitable[None]], *, max_batch: int = 500):
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        """Write ``item`` (with whatever else is waiting); return once it is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="group-commit")
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                await self._write([item for item, _ in batch])
            except Exception as exc:
                if len(batch) > 1 and not is_outage(exc):
                    # One bad item must not fail the others with it: each on its own.
                    await self._one_by_one(batch)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _one_by_one(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        for item, future in batch:
            try:
                await self._write([item])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
