"""Per-chat sequencing: a chat's updates one at a time and in order, chats side by side.

In one process an :class:`asyncio.Lock` per chat keeps turns apart. Webhook workers sharing
PostgreSQL also take a session-level advisory lock per chat, so a redelivery reaching another
worker waits for the first one's turn (delivery included). When an update fails with
:class:`RetryLater`, the chat's later updates are refused until it comes back (or
:data:`BLOCK_EXPIRY` passes), so the chat's order holds across redeliveries.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from telegram import Update

from bot.channels.telegram.base import CHANNEL, RetryLater, store_outage
from bot.store.db import Database

BLOCK_EXPIRY = 600.0  # seconds a chat waits for the redelivery of a failed update
_MAX_LOCKS = 10_000  # in-process chat locks kept before unused ones are dropped
_DROP_AT_ONCE = 2_000


class ChatSequencer:
    """Runs each update's work under its chat's locks and a turn slot, in the chat's order."""

    def __init__(self, db: Database | None, *, concurrency: int, shared_locks: bool) -> None:
        self.db = db
        self._chat_locks: OrderedDict[str, asyncio.Lock] = OrderedDict()
        self._blocked: dict[str, tuple[int, float]] = {}
        self._lock_engine: AsyncEngine | None = None
        # Chats are locked across processes only where several may handle them: webhook workers
        # sharing PostgreSQL. A polling bot is one process (Telegram refuses a second
        # getUpdates), so its in-process locks are enough. Each held chat holds a connection.
        self._shared = shared_locks and db is not None and db.dialect == "postgresql"
        self._lock_pool_size = max(1, min(concurrency, 16))
        # More turns at once than the store keeps connections would queue in its pool, or
        # open and close an overflow connection per turn.
        slots = min(concurrency, (db.steady_connections if db is not None else None) or concurrency)
        self._slots = asyncio.Semaphore(min(slots, self._lock_pool_size) if self._shared else slots)

    async def run(self, update: Update, work: Callable[[Update], Awaitable[None]]) -> None:
        """Do ``work(update)`` in its chat's turn; :class:`RetryLater` (also when an earlier
        update of the chat still has to come back) leaves the chat waiting for this one."""
        key = chat_key(update)
        async with self._chat_lock(key):
            blocked = self._blocked.get(key)
            if blocked is not None:
                failed_id, since = blocked
                if time.monotonic() - since > BLOCK_EXPIRY:
                    del self._blocked[key]
                elif update.update_id > failed_id:
                    # An earlier update of this chat failed: keep the chat's order.
                    raise RetryLater(f"chat {key} waits for update {failed_id}")
            try:
                async with self._slots, self._shared_lock(key):
                    await work(update)
            except RetryLater:
                earlier = self._blocked.get(key, (update.update_id, 0.0))[0]
                self._blocked[key] = (min(earlier, update.update_id), time.monotonic())
                raise
            if blocked is not None and update.update_id <= blocked[0]:
                self._blocked.pop(key, None)

    @asynccontextmanager
    async def chat_lock(self, chat_id: int | str) -> AsyncIterator[None]:
        """Hold a chat for this task alone, in this process and (PostgreSQL) in every worker."""
        key = str(chat_id)
        async with self._chat_lock(key), self._shared_lock(key):
            yield

    def busy(self, chat: str) -> bool:
        """Whether a turn of the chat runs in this process now."""
        lock = self._chat_locks.get(chat)
        return lock is not None and lock.locked()

    async def close(self) -> None:
        """Release the connections of the cross-worker chat locks."""
        if self._lock_engine is not None:
            await self._lock_engine.dispose()
            self._lock_engine = None

    @asynccontextmanager
    async def _shared_lock(self, key: str) -> AsyncIterator[None]:
        """A PostgreSQL advisory lock on the chat for the whole turn, delivery included.

        The engine's row lock covers its own transaction only; without this, a redelivery that
        reaches another worker while the first is still sending would replay the same replies.
        Session-level locks die with their connection, so a crashed worker frees its chats.
        """
        if not self._shared or self.db is None:
            yield
            return
        if self._lock_engine is None:
            self._lock_engine = create_async_engine(
                self.db.async_url,
                pool_size=self._lock_pool_size,
                # Room for a second chat held inside a turn (an agent's message relayed to the
                # customer's chat) and for the outbox flush, beyond the `_slots` turns.
                max_overflow=self._lock_pool_size,
                pool_timeout=60,
                # Session-level locks need no transaction: two round trips per turn, not four.
                isolation_level="AUTOCOMMIT",
            )
        lock_id = _lock_id(key)
        try:
            conn = await self._lock_engine.connect()
        except Exception as exc:
            raise store_outage(self.db, exc) from exc
        try:
            try:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_id})
            except Exception as exc:
                raise store_outage(self.db, exc) from exc
            try:
                yield
            finally:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_id})
                    await conn.commit()
                except Exception:
                    await conn.invalidate()  # never return a connection still holding a lock
        finally:
            await conn.close()

    @asynccontextmanager
    async def _chat_lock(self, key: str) -> AsyncIterator[None]:
        lock = self._chat_locks.get(key)
        if lock is None:
            lock = self._chat_locks[key] = asyncio.Lock()
            if len(self._chat_locks) > _MAX_LOCKS:
                for old_key, old in list(self._chat_locks.items())[:_DROP_AT_ONCE]:
                    if not old.locked():
                        del self._chat_locks[old_key]
        async with lock:
            yield


def chat_key(update: Update) -> str:
    """The chat an update belongs to (its sender, or itself, when it has no chat)."""
    chat = update.effective_chat
    if chat is not None:
        return str(chat.id)
    user = update.effective_user
    return f"user:{user.id}" if user is not None else f"update:{update.update_id}"


def _lock_id(key: str) -> int:
    """A signed 64-bit advisory lock id for a chat of this channel."""
    digest = hashlib.blake2b(f"{CHANNEL}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
