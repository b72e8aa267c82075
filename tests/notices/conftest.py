"""Fixtures for notices: the fake Bot API and a fresh PostgreSQL database per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.bot_api import FakeBotAPI  # noqa: E402
from tests.pg_databases import TemplateDatabases  # noqa: E402


@pytest.fixture
def fake_api() -> Iterator[FakeBotAPI]:
    """A running fake Bot API server on 127.0.0.1 (random port)."""
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def fresh_pg(pg_databases: TemplateDatabases) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own."""
    url = pg_databases.take()
    yield url
    pg_databases.give_back(url)
