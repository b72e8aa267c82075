"""One classification of store errors: an outage is waited out, a permanent error is not
(issue 11 items 6-8). Real errors from real databases, not constructed ones."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.store.db import Database, StoreUnavailable, is_outage
from bot.store.models import InboundReceipt
from tests.fakes.tcp_proxy import TcpProxy


async def _error(db: Database, statement: str) -> BaseException:
    try:
        async with db.session() as session:
            await session.execute(text(statement))
    except Exception as exc:
        return exc
    raise AssertionError("no error")


async def test_a_unique_clash_is_permanent(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        session.add(InboundReceipt(channel="t", delivery_id="1", created_at=now))
    try:
        async with db.session() as session:
            session.add(InboundReceipt(channel="t", delivery_id="1", created_at=now))
    except Exception as exc:
        assert not is_outage(exc)
    else:
        raise AssertionError("no clash")


async def test_a_bad_statement_is_permanent(db: Database) -> None:
    assert not is_outage(await _error(db, "SELECT * FROM no_such_table"))


@pytest.mark.postgres
async def test_a_value_the_column_cannot_hold_is_permanent(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        exc = await _error(db, "SELECT CAST('x' AS integer)")
        assert not is_outage(exc)
        exc = await _error(db, "SELECT 1/0")
        assert not is_outage(exc)
    finally:
        await db.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.postgres
async def test_a_refused_connection_is_an_outage(pg_url: str) -> None:
    url = make_url(pg_url).set(host="127.0.0.1", port=_free_port())
    db = Database(url.render_as_string(hide_password=False))
    try:
        exc = await _error(db, "SELECT 1")
        assert isinstance(exc, StoreUnavailable) and is_outage(exc)
    finally:
        await db.dispose()


def test_sqlite_says_in_words_whether_it_is_busy() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    exc = OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    assert is_outage(exc)
    exc = OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: x"))
    assert not is_outage(exc)


@pytest.mark.postgres
async def test_a_cut_link_is_one_warning_then_one_info(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(pg_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        db = Database(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
        try:
            async with db.session() as session:  # connected: the pool holds a live link
                await session.execute(text("SELECT 1"))
            caplog.set_level(logging.DEBUG, logger="bot.store.db")
            proxy.down()
            for _ in range(5):
                assert is_outage(await _error(db, "SELECT * FROM no_such_table"))
            proxy.up()
            for _ in range(3):
                async with db.session() as session:
                    await session.execute(text("SELECT 1"))
        finally:
            await db.dispose()
    records = [r for r in caplog.records if r.name == "bot.store.db"]
    assert [r.levelname for r in records] == ["WARNING", "INFO"], records
    assert "cannot be reached" in records[0].getMessage()
    assert "back" in records[1].getMessage()
