"""SQLite for the async engine: each statement one call, made on the event loop's thread.

SQLAlchemy's aiosqlite adapter makes four calls per statement (create the cursor, execute,
fetch, close), and aiosqlite runs each on the connection's own thread: every hand-off wakes
the thread, passes the GIL and writes to the loop's self-pipe, which costs more CPU than
SQLite's work on a local file. :class:`OneHopCursor` runs the whole statement (execute, fetch
every row, close) in one call and answers the rest from what it returned;
:class:`InlineConnection` makes that call on the loop's thread and waits out another
connection's lock with ``asyncio.sleep`` rather than a blocking busy timeout. Transactions and
results are sqlite3's, as with plain aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import aiosqlite

_Description = tuple[tuple[Any, ...], ...] | None


def _run(
    owner: aiosqlite.Connection, sql: str, parameters: Any, many: bool
) -> tuple[_Description, int, int | None, list[Any]]:
    """On the connection's thread: the whole statement, then the cursor is closed."""
    cursor = owner._conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor:
    """The part of ``aiosqlite.Cursor`` SQLAlchemy's adapter uses; no hop of its own."""

    arraysize = 1

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self.description: _Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> OneHopCursor:
        result = await self._connection._execute(_run, self._connection, sql, parameters, False)
        self.description, self.rowcount, self.lastrowid, self._rows = result
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> OneHopCursor:
        result = await self._connection._execute(_run, self._connection, sql, parameters, True)
        self.description, self.rowcount, self.lastrowid, self._rows = result
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []


class InlineConnection(aiosqlite.Connection):
    """``aiosqlite.Connection`` with :class:`OneHopCursor` cursors, each call made on the event
    loop's own thread instead of aiosqlite's.

    A statement on a local SQLite file takes microseconds, less than the hand-off to a thread
    and back. What a thread was for is waiting on a lock another connection holds: here the
    connection has no busy timeout and a "database is locked" answer is waited out with
    ``asyncio.sleep`` (up to ``busy_timeout``), so the loop is never blocked by a lock.
    A statement that was to start a transaction is rolled back before it is tried again, so
    the retry starts a fresh transaction instead of one on an old snapshot.
    """

    busy_timeout = 30.0

    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        connection = self._connection
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_timeout
        delay = 0.001
        while True:
            starts_transaction = not connection.in_transaction
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or loop.time() + delay > deadline:
                    raise
                if starts_transaction and connection.in_transaction:
                    connection.rollback()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)


def inline_connector(
    database: str, *, timeout: float = 30.0
) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """An ``async_creator`` for ``create_async_engine`` (``sqlite+aiosqlite`` URLs)."""

    async def connect() -> aiosqlite.Connection:
        connection = InlineConnection(
            partial(sqlite3.connect, database, timeout=0, check_same_thread=False), 64
        )
        connection.busy_timeout = timeout
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
        return await connection

    return connect
