"""Fixtures for the takeover tests: the fake Bot API server with a forum group, a fresh
database per test (SQLite and PostgreSQL), the NLU model, and the :class:`Harness`."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.clock import FrozenClock  # noqa: E402
from tests.agents.support import GROUP, Harness, agent_settings  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI  # noqa: E402


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLite, then a fresh PostgreSQL database per test (the takeover tests count topics)."""
    if request.param == "sqlite":
        yield str(request.getfixturevalue("sqlite_url"))
        return
    databases = request.getfixturevalue("pg_databases")
    url = databases.take()
    yield url
    databases.give_back(url)


@pytest.fixture
def fake_api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.group(GROUP, "Kefu agents", forum=True)
        yield api


@pytest.fixture
async def harness(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[Harness]:
    h = Harness(fake_api, agent_settings(fake_api, tmp_path, db_url), clock, interpreter)
    await h.start()
    yield h
    await h.close()
