"""SQLite run inline, one call per statement: the results, errors and lock waits of aiosqlite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.store.db import Database
from bot.store.sqlite import InlineConnection


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
    original = InlineConnection._execute

    async def counted(self: InlineConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(InlineConnection, "_execute", counted)
    async with db.session() as s:
        hops = 0
        for n in range(10):
            await s.execute(text("INSERT INTO t (name) VALUES (:n) RETURNING id"), {"n": str(n)})
        assert hops == 10


async def test_a_locked_database_is_waited_out_without_blocking_the_loop(
    db: Database,
) -> None:
    """Another connection holds the write lock: the writer waits (the loop keeps running)
    and writes once the lock is released."""
    ticks = 0
    twenty_ticks = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1
            if ticks >= 20:
                twenty_ticks.set()

    clock = asyncio.create_task(ticker())
    holder = await db.engine.connect()
    await holder.execute(text("BEGIN IMMEDIATE"))  # take the write lock and keep it
    await holder.execute(text("INSERT INTO t (name) VALUES ('first')"))

    async def write() -> None:
        async with db.session() as s:
            await s.execute(text("INSERT INTO t (name) VALUES ('second')"))

    writer = asyncio.create_task(write())
    await asyncio.wait_for(twenty_ticks.wait(), 10)  # the loop ran on while the writer tried
    assert not writer.done() and ticks >= 20  # waiting, and the loop was not blocked
    await holder.execute(text("COMMIT"))
    await holder.close()
    await asyncio.wait_for(writer, 5)
    clock.cancel()
    async with db.session() as s:
        names = (await s.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["first", "second"]


async def test_a_lock_held_too_long_is_an_error(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.store.db as store_db

    connector = store_db.inline_connector
    monkeypatch.setattr(
        store_db, "inline_connector", lambda path, timeout: connector(path, timeout=0.2)
    )
    impatient = Database(f"sqlite:///{tmp_path / 'hop.db'}")
    holder = await db.engine.connect()
    await holder.execute(text("BEGIN IMMEDIATE"))
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with impatient.session() as s:
                await s.execute(text("INSERT INTO t (name) VALUES ('x')"))
    finally:
        await holder.execute(text("ROLLBACK"))
        await holder.close()
        await impatient.dispose()
