"""Prometheus metrics of a Kefu process (prometheus-client), and the store readings behind them.

What an office alerts on: updates handled and how they ended, how long a turn takes, the outbox
backlog (replies stored but not yet sent), follow-up lag (the oldest due follow-up no worker has
taken), dead letters (updates that could never be processed), and whether the store answers.

The hot path only increments a counter and observes a histogram (:func:`observe_update`); the
store gauges are read when Prometheus scrapes (:class:`StoreProbe`), with two indexed queries.

Other modules record what they see here, e.g. the dead-letter table::

    from bot.metrics import DEAD_LETTERS
    DEAD_LETTERS.inc()
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, literal_column, select

from bot.clock import Clock
from bot.followups.models import Followup, FollowupStatus
from bot.store.db import Database
from bot.store.models import Message

log = logging.getLogger(__name__)

# How an update ended: ok (processed, acknowledged), retry (the store was unavailable: held and
# delivered again), error (a bug or a permanent failure: acknowledged, logged).
RESULTS = ("ok", "retry", "error")

UPDATES = Counter(
    "kefu_updates", "Telegram updates handled, by result (ok, retry, error).", ["result"]
)
_BY_RESULT = {result: UPDATES.labels(result) for result in RESULTS}  # exported at 0 from start
TURN_SECONDS = Histogram(
    "kefu_turn_seconds",
    "Time from an update reaching Kefu to its replies sent (the dialogue turn plus sending).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
DEAD_LETTERS = Counter(
    "kefu_dead_letters", "Updates that could never be processed and were stored as dead letters."
)
UNCONFIRMED_SENDS = Counter(
    "kefu_unconfirmed_sends",
    "Sends whose answer from Telegram was lost (most likely delivered; never repeated), by method.",
    ["method"],
)
OUTBOX_BACKLOG = Gauge(
    "kefu_outbox_backlog", "Outbound messages stored but not yet sent (read at scrape time)."
)
FOLLOWUP_LAG = Gauge(
    "kefu_followup_lag_seconds",
    "Age of the oldest due follow-up that no worker holds (0 when none is waiting).",
)
STORE_UP = Gauge("kefu_store_up", "1 when the database answered the last scrape, else 0.")


def observe_update(result: str, seconds: float) -> None:
    """Record one handled update: its result and how long it took."""
    _BY_RESULT[result].inc()
    TURN_SECONDS.observe(seconds)


def render(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The exposition text and its content type, for an HTTP handler."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class StoreProbe:
    """Reads the store's gauges when scraped; a store that does not answer in time is down."""

    def __init__(self, db: Database, clock: Clock, *, timeout: float = 2.0) -> None:
        self.db = db
        self.clock = clock
        self.timeout = timeout

    async def refresh(self) -> bool:
        """Update the outbox, follow-up and store gauges; whether the store answered."""
        try:
            async with asyncio.timeout(self.timeout):
                backlog, oldest = await self._read(self.clock.now())
        except Exception as exc:  # any failure to read means "down" to the operator
            log.debug("metrics: store not readable: %s", exc)
            STORE_UP.set(0)
            return False
        STORE_UP.set(1)
        OUTBOX_BACKLOG.set(backlog)
        lag = (self.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        FOLLOWUP_LAG.set(max(lag, 0.0))
        return True

    async def _read(self, now: datetime) -> tuple[int, datetime | None]:
        # A literal 'out', not a bound parameter: the planner must see that the statement
        # matches the partial index ix_messages_unsent (only unsent outbound rows).
        unsent = (
            select(func.count())
            .select_from(Message)
            .where(Message.direction == literal_column("'out'"), Message.sent_at.is_(None))
        )
        # Due and pending, or claimed by a worker whose lease ran out (it crashed): waiting.
        pending = select(func.min(Followup.due_at)).where(
            Followup.status == FollowupStatus.PENDING, Followup.due_at <= now
        )
        abandoned = select(func.min(Followup.due_at)).where(
            Followup.status == FollowupStatus.CLAIMED, Followup.lease_until <= now
        )
        async with self.db.session() as session:
            backlog = int((await session.execute(unsent)).scalar_one())
            times = [(await session.execute(q)).scalar_one() for q in (pending, abandoned)]
        due = [t for t in times if t is not None]
        return backlog, min(due) if due else None
