"""Test helpers shared by the follow-up tests and their worker subprocesses.

``SinkHandler`` records each follow-up it handles into ``followup_sink`` whose primary key is the
follow-up's idempotency key: handling one twice would violate it and show up as an error.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.followups.models import Followup

SINK_DDL = (
    "CREATE TABLE IF NOT EXISTS followup_sink ("
    " idempotency_key VARCHAR(200) PRIMARY KEY,"
    " followup_id BIGINT NOT NULL,"
    " worker VARCHAR(64) NOT NULL)"
)


class SinkHandler:
    """Handles a follow-up by inserting a row keyed by its idempotency key."""

    transactional = True

    def __init__(self, worker: str, *, pause: float = 0.0, hang_marker: Path | None = None) -> None:
        self.worker = worker
        self.pause = pause
        self.hang_marker = hang_marker
        self.calls = 0

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        self.calls += 1
        await session.execute(
            text(
                "INSERT INTO followup_sink (idempotency_key, followup_id, worker)"
                " VALUES (:k, :i, :w)"
            ),
            {"k": followup.idempotency_key, "i": followup.id, "w": self.worker},
        )
        if self.hang_marker is not None:
            # Simulate a worker that dies mid-way: announce, then never finish.
            self.hang_marker.write_text(str(followup.id))
            await asyncio.Event().wait()
        if self.pause:
            await asyncio.sleep(self.pause)  # spread work across processes; not a deadline


class FailingHandler:
    """Always raises, to exercise retries."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        self.calls += 1
        raise RuntimeError(f"boom {followup.id}")
