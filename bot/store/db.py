"""Connecting to the store: async engine and sessions, migrations, conversation locks."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.store.migrate import upgrade as migrate_upgrade
from bot.store.sqlite import inline_connector
from bot.store.urls import StoreUnavailable, async_url, redact_url, sync_url

# StoreUnavailable and the URL helpers live in bot.store.urls (migrate needs them without db);
# they stay importable from here, where every caller has always found them.
__all__ = [
    "Database",
    "StoreHealth",
    "StoreUnavailable",
    "async_url",
    "is_outage",
    "log_failure",
    "redact_url",
    "sync_url",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# SQLSTATE classes worth waiting out: connection exception (08), transaction rollback such as
# serialization failure and deadlock (40), insufficient resources (53), operator intervention
# such as an administrator shutdown (57), system error (58); and lock_not_available.
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_TRANSIENT_SQLSTATES = frozenset({"55P03"})
# SQLite says it in words: a busy or locked file, a file that cannot be opened or read.
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database is busy",
                     "unable to open database", "disk i/o error")  # fmt: skip


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means "the store cannot do it now" (an outage: wait and try again) rather
    than "this can never be done" (a permanent error: set the work aside, never loop on it).

    Outages: a refused, reset or lost connection, a timeout, an exhausted connection pool, a
    serialization failure or deadlock, a locked SQLite file. Permanent: a unique-key clash,
    a value a column cannot hold, a bad statement, any other error (a bug). This is the one
    place that decides; every retry loop in Kefu asks it.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreUnavailable | PoolTimeout | ConnectionError | TimeoutError):
            return True
        if isinstance(current, socket.gaierror):
            return True
        if isinstance(current, DBAPIError):
            return _dbapi_outage(current)
        if isinstance(current, SQLAlchemyError):
            return False
        current = current.__cause__
    return False


def _dbapi_outage(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str) and state:
        return state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES
    if not isinstance(exc, OperationalError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        text = str(exc.orig).lower()
        return any(needle in text for needle in _SQLITE_TRANSIENT)
    # A driver error without a SQLSTATE: the server never answered (psycopg's failed connects).
    return True


def log_failure(logger: logging.Logger, exc: BaseException, what: str, *args: object) -> None:
    """Log a failed round of background work: a traceback for a bug, one DEBUG line for an
    outage (the store itself says once that it is gone, see :class:`StoreHealth`)."""
    if is_outage(exc):
        logger.debug(what + " (store unavailable: %s)", *args, _first_line(exc))
    else:
        logger.error(what, *args, exc_info=exc)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class StoreHealth:
    """Whether this process's store answers. Says so once per change: one WARNING when it goes
    away, one INFO when it is back, however many tasks meet the outage in between."""

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        self._down_since: float | None = None

    @property
    def up(self) -> bool:
        return self._down_since is None

    def lost(self, exc: BaseException) -> None:
        """A connection failed: the first failure of an outage is logged."""
        if self._down_since is None:
            self._down_since = time.monotonic()
            cause = exc.__cause__ if isinstance(exc, StoreUnavailable) and exc.__cause__ else exc
            reason = _first_line(getattr(cause, "orig", None) or cause)
            log.warning(
                "store is unavailable: the database at %s cannot be reached (%s); "
                "work is held until it is back",
                self.url,
                reason,
            )

    def back(self) -> None:
        """A transaction succeeded: the end of an outage is logged."""
        if self._down_since is not None:
            down_for = time.monotonic() - self._down_since
            self._down_since = None
            log.info("store is back after %.0f s: held work goes on", down_for)


SIDE_CONNECTIONS = 2


class Database:
    """The shared store. One per process; cheap to share between tasks.

    On SQLite, writes are serialised in-process (one writer at a time is SQLite's own rule);
    on PostgreSQL each conversation is locked with ``SELECT ... FOR UPDATE``.
    """

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 10, pool_pre_ping: bool = False
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.async_url = async_url(url)
        self.dialect = make_url(self.async_url).get_backend_name()
        kwargs: dict[str, Any] = {
            "echo": echo,
            "pool_pre_ping": pool_pre_ping and self.dialect != "sqlite",
        }
        if self.dialect == "postgresql":
            # SIDE_CONNECTIONS more are kept open beyond the turns' (``steady_connections``
            # bounds the turns), for short statements a turn runs outside its transaction
            # (a ticket number): otherwise each would open and close an overflow connection
            # while every turn slot is busy. The most connections stay 2 x pool_size.
            kwargs.update(
                pool_size=pool_size + SIDE_CONNECTIONS,
                max_overflow=max(0, pool_size - SIDE_CONNECTIONS),
            )
        if self.dialect == "sqlite":
            database = self._ensure_sqlite_dir()
            if database and database != ":memory:" and not make_url(self.async_url).query:
                kwargs["async_creator"] = inline_connector(database, timeout=30)
            else:
                kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(self.async_url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        # A statement that ran is the surest sign the store answers again (a transaction with
        # no statement in it never connects, so it would say "back" too early).
        event.listen(self.engine.sync_engine, "after_cursor_execute", self._answered)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Single statements are atomic by themselves: on PostgreSQL they skip the BEGIN and
        # COMMIT round trips (psycopg's autocommit is a client-side flag, set on checkout).
        self._single_engine = (
            self.engine
            if self.dialect == "sqlite"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._write_lock = asyncio.Lock()
        self.health = StoreHealth(url)

    @property
    def steady_connections(self) -> int | None:
        """Connections the pool keeps open (PostgreSQL); None = no pool limit. Beyond them it
        opens overflow connections and closes each after use: fine for bursts, costly (a new
        connection per use) if work is sized to need them all the time."""
        return self.pool_size if self.dialect == "postgresql" else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _ensure_sqlite_dir(self) -> str | None:
        database = make_url(self.async_url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return database

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        """``exc`` (a lost or refused connection) as :class:`StoreUnavailable`; noted in
        :attr:`health`. Raise the result ``from exc``."""
        error = StoreUnavailable(f"the database at {redact_url(self.url)} cannot be reached")
        error.__cause__ = exc
        self.health.lost(error)
        return error

    @contextmanager
    def _outage_is_unavailable(self) -> Iterator[None]:
        """A lost or refused connection becomes :class:`StoreUnavailable` (noted in
        :attr:`health`)."""
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            if _is_connection_error(exc):
                raise self.unavailable(exc) from exc
            raise

    def _answered(self, *_args: Any) -> None:
        if not self.health.up:
            self.health.back()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error."""
        with self._outage_is_unavailable():
            async with self.sessionmaker() as session, session.begin():
                yield session

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for ONE statement (autocommit on PostgreSQL; a transaction on
        SQLite). Cheaper than :meth:`session`; use :meth:`session` for more than one."""
        with self._outage_is_unavailable():
            async with self._single_engine.begin() as connection:
                yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction. On SQLite, one writer at a time in this process."""
        if self.is_sqlite:
            async with self._write_lock, self.session() as session:
                yield session
        else:
            async with self.session() as session:
                yield session

    def upgrade(self, revision: str = "heads") -> None:
        """Apply migrations (synchronously; call before serving)."""
        migrate_upgrade(self.url, revision)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _is_connection_error(exc: DBAPIError) -> bool:
    """The connection itself failed (not the statement): the store is gone for now."""
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str) and state:
        return state.startswith(("08", "57P"))
    text = str(getattr(exc, "orig", exc)).lower()
    if isinstance(exc, OperationalError) and not type(exc.orig).__module__.startswith("sqlite3"):
        return True  # psycopg: a connect or a read that failed before the server answered
    return any(
        needle in text
        for needle in (
            "connection refused",
            "could not connect",
            "unable to open database",
            "connection is closed",
            "server closed the connection",
            "terminating connection",
            "connection failed",
            "no such host",
            "timeout expired",
        )
    )
