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
def db(emptied_db: Database) -> Database:
    """The shared ``db``, emptied first: the PostgreSQL database lives for the whole module."""
    return emptied_db


@pytest.fixture
async def app(
    db: Database, settings: Settings, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[App]:
    built = build_app(settings, clock=clock, interpreter=interpreter, migrate=False)
    yield built
    await built.close()
