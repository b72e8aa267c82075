"""Fixtures for the console tests: the module's database, emptied before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store.db import Database


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
