"""SQLite with one thread hop per statement: same results and errors as plain aiosqlite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.store.db import Database
from bot.store.sqlite import OneHopConnection


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite:///{tmp_path / 'hop.db'}")
    async with database.session() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield database
    await database.dispose()


async def test_statements_return_rows_ids_and_counts(db: Database) -> None:
    async with db.session() as s:
        inserted = await s.execute(text("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')"))
        assert inserted.rowcount == 3
        result = await s.execute(text("INSERT INTO t (name) VALUES ('d')"))
        assert result.lastrowid == 4
        returned = await s.execute(text("INSERT INTO t (name) VALUES ('e') RETURNING id"))
        assert returned.scalar_one() == 5
        await s.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "f"}, {"n": "g"}])
    async with db.session() as s:
        rows = await s.execute(text("SELECT name FROM t ORDER BY id"))
        assert rows.fetchone() == ("a",)
        assert rows.fetchmany(2) == [("b",), ("c",)]
        assert [r[0] for r in rows.fetchall()] == ["d", "e", "f", "g"]
        updated = await s.execute(text("UPDATE t SET name = name || '!' WHERE id > 5"))
        assert updated.rowcount == 2


async def test_errors_and_rollbacks_are_sqlites(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            await s.execute(text("INSERT INTO t (name) VALUES ('x')"))
            await s.execute(text("INSERT INTO t (name) VALUES ('x')"))
    async with db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_one_hand_off_per_statement(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    hops = 0
    original = OneHopConnection._execute

    async def counted(self: OneHopConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(OneHopConnection, "_execute", counted)
    async with db.session() as s:
        hops = 0
        for n in range(10):
            await s.execute(text("INSERT INTO t (name) VALUES (:n) RETURNING id"), {"n": str(n)})
        assert hops == 10
