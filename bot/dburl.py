"""Which database URLs Kefu can use, checked when the settings are read.

Kefu speaks SQLite (aiosqlite, one process) and PostgreSQL through psycopg 3 (the shared store,
installed with Kefu). A plain ``postgresql://`` or ``postgres://`` URL is accepted and means
psycopg; any other database or driver is refused with one line saying what to write instead,
rather than a traceback from SQLAlchemy's driver import at the first connection.
"""

from __future__ import annotations

import importlib.util

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite"}
POSTGRES_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg"}
_EXAMPLES = "sqlite:///var/kefu.db or postgresql+psycopg://user:password@host/dbname"


def check_database_url(url: str) -> str:
    """``url`` if Kefu can use it; otherwise ``ValueError`` naming what to use or install."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not a database URL; use {_EXAMPLES}") from None
    driver = parsed.drivername
    if driver in SQLITE_DRIVERS:
        return url
    if driver in POSTGRES_DRIVERS:
        if importlib.util.find_spec("psycopg") is None:
            raise ValueError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'")
        return url
    if parsed.get_backend_name() == "postgresql":
        raise ValueError(
            f"Kefu talks to PostgreSQL through psycopg 3, not {parsed.get_driver_name()}: "
            "write postgresql+psycopg://..."
        )
    raise ValueError(
        f"{parsed.get_backend_name()} is not supported; Kefu stores its data in SQLite or "
        f"PostgreSQL: use {_EXAMPLES}"
    )
