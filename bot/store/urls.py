"""Database URLs for each driver, and the one error the store raises to an operator.

Its own module so that the migrations (:mod:`bot.store.migrate`) and the connection
(:mod:`bot.store.db`) both use it without importing each other.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url


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
