"""Ticket numbers and the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from bot.store.db import Database
from bot.store.models import Contact, Ticket, TicketEvent
from bot.tickets import list_for_contact, open_ticket

HK = ZoneInfo("Asia/Hong_Kong")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=HK)


async def test_numbers_count_per_kind_and_day(db: Database) -> None:
    async with db.write() as s:
        first = await open_ticket(s, kind="repair", now=NOW, actor="test")
        second = await open_ticket(s, kind="repair", now=NOW, actor="test")
        complaint = await open_ticket(s, kind="complaint", now=NOW, actor="test")
        tomorrow = await open_ticket(s, kind="repair", now=NOW + timedelta(days=1), actor="test")
    assert [first.number, second.number] == ["R-20261127-0001", "R-20261127-0002"]
    assert complaint.number == "C-20261127-0001"
    assert tomorrow.number == "R-20261128-0001"


async def test_opening_is_audited_and_times_stay_aware(db: Database) -> None:
    async with db.write() as s:
        contact = Contact(created_at=NOW, updated_at=NOW)
        s.add(contact)
        await s.flush()
        ticket = await open_ticket(s, kind="repair", now=NOW, actor="user:1", contact_id=contact.id)
    async with db.session() as s:
        loaded = await s.get_one(Ticket, ticket.id)
        events = (
            (await s.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)))
            .scalars()
            .all()
        )
        mine = await list_for_contact(s, contact.id)
    assert loaded.created_at == NOW and loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)  # stored and returned as UTC
    assert [(e.actor, e.action) for e in events] == [("user:1", "opened")]
    assert [t.number for t in mine] == [ticket.number]


async def test_naive_times_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with db.write() as s:
            s.add(Contact(created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1)))


async def test_concurrent_tasks_never_share_a_number(db: Database) -> None:
    async def one(i: int) -> str:
        async with db.write() as s:
            ticket = await open_ticket(s, kind="complaint", now=NOW, actor=f"t{i}")
            return ticket.number

    numbers = await asyncio.gather(*(one(i) for i in range(30)))
    assert len(set(numbers)) == 30


@pytest.mark.postgres
async def test_a_turn_holding_a_number_does_not_hold_up_the_next(pg_url: str) -> None:
    """The number is taken in its own short statement: a second ticket-opening transaction
    gets its number while the first is still open (it used to wait for the first to end)."""
    db = Database(pg_url)
    day = datetime(2031, 3, 4, 10, tzinfo=HK)  # a day of its own in a shared database
    try:
        async with db.write() as first:
            one = await open_ticket(first, kind="repair", now=day, actor="t1")

            async def second() -> str:
                async with db.write() as s:
                    return (await open_ticket(s, kind="repair", now=day, actor="t2")).number

            two = await asyncio.wait_for(second(), timeout=30)
        assert (one.number, two) == ("R-20310304-0001", "R-20310304-0002")
        # A rolled-back turn leaves a gap; numbers stay unique and increasing.
        with pytest.raises(RuntimeError):
            async with db.write() as s:
                await open_ticket(s, kind="repair", now=day, actor="t3")
                raise RuntimeError("the turn fails after taking a number")
        async with db.write() as s:
            four = await open_ticket(s, kind="repair", now=day, actor="t4")
        assert four.number == "R-20310304-0004"
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_numbers_taken_while_every_turn_slot_is_busy_open_no_connection(
    pg_url: str,
) -> None:
    """With as many turns as the pool's steady connections (what the channels allow), the
    ticket number's own statement uses a connection kept open, not a new one each time."""
    db = Database(pg_url, pool_size=2)
    connects = 0

    def count(*_args: object) -> None:
        nonlocal connects
        connects += 1

    day = datetime(2031, 5, 6, 10, tzinfo=HK)

    async def turn(i: int) -> None:
        async with db.write() as s:
            await s.execute(select(func.count()).select_from(Ticket))  # the turn's connection
            await open_ticket(s, kind="complaint", now=day, actor=f"t{i}")

    try:
        await asyncio.gather(turn(0), turn(1))  # warm-up: the pool fills
        event.listen(db.engine.sync_engine, "connect", count)
        for r in range(5):
            await asyncio.gather(turn(2 * r + 2), turn(2 * r + 3))
        assert connects == 0
    finally:
        await db.dispose()


def _open_many(url: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> list[str]:
        db = Database(url)
        out = []
        for i in range(count):
            async with db.write() as s:
                ticket = await open_ticket(
                    s, kind="repair", now=datetime(2030, 1, 2, tzinfo=UTC), actor=f"p{i}"
                )
                out.append(ticket.number)
        await db.dispose()
        return out

    queue.put(asyncio.run(main()))


@pytest.mark.postgres
@pytest.mark.process
def test_several_processes_get_unique_consecutive_numbers(pg_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    processes = [ctx.Process(target=_open_many, args=(pg_url, 25, queue)) for _ in range(4)]
    for p in processes:
        p.start()
    numbers = [n for _ in processes for n in queue.get(timeout=120)]
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(numbers) == 100
    assert sorted(numbers) == [f"R-20300102-{i:04d}" for i in range(1, 101)]

    async def count() -> int:
        db = Database(pg_url)
        async with db.session() as s:
            n = (
                await s.execute(
                    select(func.count())
                    .select_from(Ticket)
                    .where(Ticket.number.like("R-20300102-%"))
                )
            ).scalar_one()
        await db.dispose()
        return int(n)

    assert asyncio.run(count()) == 100
