"""Fixtures for the records tests: contacts, files to import, and (only until the NLU's unit
parser lands) a tiny stand-in for ``bot.nlu.entities`` so these tests can run on their own."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import FrozenClock
from bot.store.db import Database
from bot.store.models import Contact


def _install_unit_parser_stand_in() -> None:
    try:
        import bot.nlu.entities  # noqa: F401

        return
    except ImportError:
        pass
    pattern = re.compile(
        r"(?:(?:block|blk)\s*(?P<b1>\w+)|(?P<b2>\w+?)\s*(?:棟|栋|座|号楼|號樓))?[\s,]*"
        r"(?:(?:unit)\s*(?P<u1>\d+)|(?P<u2>\d+)\s*(?:單元|单元))?[\s,]*"
        r"(?:(?:room|rm|flat)\s*(?P<r1>\w+)|(?P<r2>\d{3,5})\s*(?:室)?)",
        re.IGNORECASE,
    )

    def parse_unit(text: str) -> dict[str, Any] | None:
        match = pattern.search(text or "")
        if not match:
            return None
        g = match.groupdict()
        room = (g["r1"] or g["r2"] or "").upper()
        if not room:
            return None
        return {
            "block": (g["b1"] or g["b2"] or None),
            "unit": g["u1"] or g["u2"] or None,
            "floor": room[:-2] if len(room) > 2 and room[:-2].isdigit() else None,
            "room": room,
        }

    def unit_key(value: dict[str, Any]) -> str:
        return "|".join(str(value.get(k) or "").upper() for k in ("block", "unit", "room"))

    def format_unit(value: dict[str, Any], language: str) -> str:
        b, u, r = value.get("block"), value.get("unit"), value.get("room")
        if language == "en":
            return ", ".join(p for p in (b and f"Block {b}", u and f"Unit {u}", f"Room {r}") if p)
        block, unit = ("棟", "單元") if language == "zh-Hant" else ("栋", "单元")
        return f"{b + block if b else ''}{u + unit if u else ''}{r}室"

    module = types.ModuleType("bot.nlu.entities")
    module.parse_unit = parse_unit  # type: ignore[attr-defined]
    module.unit_key = unit_key  # type: ignore[attr-defined]
    module.format_unit = format_unit  # type: ignore[attr-defined]
    sys.modules["bot.nlu.entities"] = module


_install_unit_parser_stand_in()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """The shared ``db``, emptied first: the PostgreSQL database lives for the whole module."""
    import bot.store.all_models  # noqa: F401
    from bot.store.models import Base

    database = Database(db_url)
    async with database.write() as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "alembic_version":
                await s.execute(table.delete())
    yield database
    await database.dispose()


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
