"""Connecting to the store: async engine and sessions, migrations, conversation locks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.store.sqlite import inline_connector

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class StoreUnavailable(Exception):
    """The database cannot be reached; the message is a sentence for the operator."""


def sync_url(url: str) -> str:
    """The URL for synchronous drivers (Alembic, scripts)."""
    u = make_url(url)
    if u.drivername in ("sqlite+aiosqlite",):
        u = u.set(drivername="sqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def async_url(url: str) -> str:
    """The URL for the async engine: aiosqlite for SQLite, psycopg 3 for PostgreSQL."""
    u = make_url(url)
    if u.drivername == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


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
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Single statements are atomic by themselves: on PostgreSQL they skip the BEGIN and
        # COMMIT round trips (psycopg's autocommit is a client-side flag, set on checkout).
        self._single_engine = (
            self.engine
            if self.dialect == "sqlite"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._write_lock = asyncio.Lock()

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

    @contextmanager
    def _outage_is_unavailable(self) -> Iterator[None]:
        """A lost or refused connection becomes :class:`StoreUnavailable`."""
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(
                    f"the database at {redact_url(self.url)} cannot be reached"
                ) from exc
            raise

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
        from bot.store.migrate import upgrade

        upgrade(self.url, revision)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _is_connection_error(exc: Exception) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    text = str(getattr(exc, "orig", exc)).lower()
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
