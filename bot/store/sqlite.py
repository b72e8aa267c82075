"""SQLite through aiosqlite, one thread hop per statement.

aiosqlite runs each sqlite3 call on the connection's own thread and hands the result back to
the event loop; SQLAlchemy's adapter makes four such calls per statement (create the cursor,
execute, fetch, close). Every hop wakes a thread, passes the GIL and writes to the loop's
self-pipe, which cost more CPU than SQLite's work itself. :class:`OneHopConnection` is an
``aiosqlite.Connection`` whose cursors run the whole statement (execute, fetch every row,
close) in one hop and answer the rest from what that hop returned. Behaviour, threads and
transactions are aiosqlite's; only the number of hand-offs changes.
"""

from __future__ import annotations

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


class OneHopConnection(aiosqlite.Connection):
    """``aiosqlite.Connection`` with :class:`OneHopCursor` cursors."""

    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)


def one_hop_connector(
    database: str, *, timeout: float = 30.0
) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """An ``async_creator`` for ``create_async_engine`` (``sqlite+aiosqlite`` URLs)."""

    async def connect() -> aiosqlite.Connection:
        connection = OneHopConnection(partial(sqlite3.connect, database, timeout=timeout), 64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
        return await connection

    return connect
