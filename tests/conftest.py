"""Shared fixtures: settings, a frozen clock, and real databases (SQLite and PostgreSQL).

PostgreSQL tests need a server: ``KEFU_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test module gets a fresh database
created on that server and dropped afterwards. With ``CI=true`` a missing server fails the
tests instead of skipping them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from bot.clock import FrozenClock
from bot.config import Settings, load_settings
from bot.store.db import Database
from bot.store.scratch import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TZ = ZoneInfo("Asia/Hong_Kong")


def postgres_server_url() -> str:
    return os.environ.get("KEFU_TEST_POSTGRES_URL", DEFAULT_PG)


def _pg_available(url: str) -> str | None:
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "no server"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the test PostgreSQL server; skips (fails under CI=true) if down."""
    url = postgres_server_url()
    problem = _pg_available(url)
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {url}: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem})")
    return url


@pytest.fixture(scope="module")
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test module."""
    url = create_database(postgres_server, "kefu_test")
    Database(url).upgrade()
    yield url
    drop_database(postgres_server, url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite file database."""
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    Database(url).upgrade()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    """Friday 27 November 2026, 10:00 in Hong Kong (office open)."""
    return FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=TZ))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Project settings from the repository's config.yml, on the test database."""
    config = ROOT / "config.yml"
    return load_settings(
        config if config.exists() else None,
        environ={},
        database={"url": db_url},
        var_dir=str(tmp_path / "var"),
        dialogues_dir=str(ROOT / "dialogues"),
        models_dir=str(ROOT / "models"),
    )
