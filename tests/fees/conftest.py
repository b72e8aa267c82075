"""Fixtures for the fee and evaluation tests: an emptied database and the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.store.db import Database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """The shared ``db``, emptied first: the PostgreSQL database lives for the whole module."""
    import bot.schema  # noqa: F401
    from bot.store.models import Base

    database = Database(db_url)
    async with database.write() as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "alembic_version":
                await s.execute(table.delete())
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
def interpreter() -> Any:
    from bot.config import load_settings
    from bot.nlu import load_interpreter

    return load_interpreter(load_settings(ROOT / "config.yml", environ={}))


@pytest.fixture
async def app(
    db: Database, settings: Settings, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[App]:
    built = build_app(settings, clock=clock, interpreter=interpreter, migrate=False)
    yield built
    await built.close()
