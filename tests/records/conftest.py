"""Fixtures for the records tests: an emptied database, a session, contacts, files to import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import FrozenClock
from bot.store.db import Database
from bot.store.models import Contact


@pytest.fixture
def db(emptied_db: Database) -> Database:
    """The shared ``db``, emptied first: the PostgreSQL database lives for the whole module."""
    return emptied_db


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    """One session whose transaction is committed at the end of the test."""
    async with db.write() as s:
        yield s


@pytest.fixture
def make_contact(session: AsyncSession, clock: FrozenClock) -> Callable[..., Any]:
    async def make(phone: str | None = None, verified: bool = False, **kw: Any) -> Contact:
        now = clock.now()
        contact = Contact(
            phone=phone, phone_verified=verified, created_at=now, updated_at=now, **kw
        )
        session.add(contact)
        await session.flush()
        return contact

    return make


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text.lstrip("\n"), encoding="utf-8")
        return path

    return write


def now_of(clock: FrozenClock) -> datetime:
    return clock.now()
