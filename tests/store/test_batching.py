"""Group commit: confirmations that arrive together share one write; none returns early."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.app import build_app
from bot.config import Settings
from bot.messages import InboundMessage
from bot.store.batching import GroupCommit
from bot.store.models import Message


class Recorder:
    """A write that takes a few loop turns, like a round trip, and remembers its batches."""

    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.committed: set[int] = set()
        self.fail_first = fail_first

    async def write(self, items: Sequence[int]) -> None:
        self.batches.append(list(items))
        for _ in range(3):  # in flight for a few loop turns, as a round trip would be
            await asyncio.sleep(0)
        if self.fail_first and len(self.batches) == 1:
            raise ConnectionError("store down")
        self.committed.update(items)


async def test_items_arriving_during_a_write_share_the_next_one() -> None:
    recorder = Recorder()
    batcher = GroupCommit(recorder.write)
    first = asyncio.create_task(batcher.add(0))
    await asyncio.sleep(0)  # the first write is in flight
    rest = [asyncio.create_task(batcher.add(i)) for i in range(1, 21)]
    await asyncio.gather(first, *rest)
    assert recorder.batches == [[0], list(range(1, 21))]


async def test_nobody_returns_before_their_item_is_written() -> None:
    recorder = Recorder()
    batcher = GroupCommit(recorder.write)

    async def confirm(i: int) -> bool:
        await batcher.add(i)
        return i in recorder.committed

    assert all(await asyncio.gather(*(confirm(i) for i in range(50))))


async def test_one_item_that_can_never_be_written_fails_alone() -> None:
    """A permanent error (here a clash on item 7) fails only its own caller; the others in
    the batch are written one by one. An outage still fails the whole batch (above)."""
    committed: set[int] = set()

    async def write(items: Sequence[int]) -> None:
        await asyncio.sleep(0.01)
        if 7 in items:
            raise ValueError("unique clash on item 7")
        committed.update(items)

    batcher = GroupCommit(write)
    first = asyncio.create_task(batcher.add(0))
    await asyncio.sleep(0)  # the first write is in flight: the rest share the next batch
    results = await asyncio.gather(
        first, *(batcher.add(i) for i in range(1, 11)), return_exceptions=True
    )
    assert [i for i, r in enumerate(results) if isinstance(r, Exception)] == [7]
    assert committed == set(range(11)) - {7}


async def test_a_failed_write_fails_its_own_batch_only() -> None:
    recorder = Recorder(fail_first=True)
    batcher = GroupCommit(recorder.write)
    first = asyncio.create_task(batcher.add(0))
    await asyncio.sleep(0)
    later = asyncio.create_task(batcher.add(1))
    with pytest.raises(ConnectionError):
        await first
    await later
    assert recorder.committed == {1}


async def test_batches_are_capped() -> None:
    recorder = Recorder()
    batcher = GroupCommit(recorder.write, max_batch=3)
    await asyncio.gather(*(batcher.add(i) for i in range(7)))
    assert [len(b) for b in recorder.batches] == [3, 3, 1]


async def test_concurrent_confirmations_share_transactions_on_the_real_store(
    settings: Settings,
) -> None:
    app = build_app(settings)
    try:
        outs = []
        for i in range(30):
            outs += await app.engine.handle(
                InboundMessage(channel="test", user_id=f"b{i}", chat_id=f"b{i}", text="你好")
            )
        statements = 0

        def count(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)
        await asyncio.gather(*(app.engine.mark_sent(o.id, f"t{o.id}") for o in outs if o.id))
        event.remove(app.db.engine.sync_engine, "before_cursor_execute", count)
        assert statements < len(outs) / 2
        async with app.db.session() as s:
            rows = (
                await s.execute(select(Message).where(Message.id.in_([o.id for o in outs])))
            ).scalars()
            assert all(m.sent_at is not None and m.channel_message_id == f"t{m.id}" for m in rows)
    finally:
        await app.close()
