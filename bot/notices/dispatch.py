"""The delivery worker: claims campaign recipients under a lease and sends each exactly once.

Generic over campaigns: a :class:`ContentSource` per campaign prefix (``"notice"``) says what
a recipient gets in their language, a :class:`Sender` (the Telegram channel) carries it out.

Exactly once, as far as anyone can know:

- rows are claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and a lease, so two workers
  never hold the same row; a dead worker's claimed rows come back after the lease;
- just before its request goes out a row is marked ``sending`` (committed, conditional on still
  being ours): a worker killed while the request is in flight leaves it ``sending``, and after
  the lease it becomes ``unconfirmed`` (probably delivered) rather than sent twice;
- the answer is recorded in one transaction per batch; a graceful stop finishes the requests in
  flight, records them and gives back the rows it had not started.

Ordinary rows are not claimed during quiet hours; urgent rows always are. Opt-outs are checked
again at send time (someone may opt out after the audience was expanded).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.followups.lease import default_worker_id
from bot.followups.worker import QUIET_TICKS
from bot.notices.deliveries import Delivery, DeliveryStatus, OptOut
from bot.sla.calendar import end_of_quiet_hours
from bot.store.db import Database, log_failure
from bot.store.models import Contact

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    SENT = "sent"
    UNREACHABLE = "unreachable"  # blocked by the user
    UNCONFIRMED = "unconfirmed"  # the request went out, its answer was lost
    RETRY = "retry"  # surely not delivered (no connection, flood limit): try again later
    FAILED = "failed"  # refused for good (a bad request, a missing file)


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    message_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where one delivery goes (a detached view of its row)."""

    id: int
    campaign: str
    channel: str | None
    chat_id: str | None
    language: str | None
    urgent: bool


class Sender(Protocol):
    """Sends one campaign message to one chat (e.g. over Telegram, within its limits)."""

    async def send(self, target: Target, content: Any) -> SendResult:
        """Send ``content`` to ``target``; map every failure to an :class:`Outcome`."""
        ...


class ContentSource(Protocol):
    """What a campaign's recipients receive."""

    async def content(self, session: AsyncSession, campaign: str, language: str) -> Any | None:
        """The content of ``campaign`` in ``language``; None when it was cancelled."""
        ...


def campaign_prefix(campaign: str) -> str:
    """``notice`` of ``notice:12``."""
    return campaign.split(":", 1)[0]


_RECORD = (
    update(Delivery)
    .where(
        Delivery.id == bindparam("b_id"),
        Delivery.lease_owner == bindparam("b_owner"),
        Delivery.status == DeliveryStatus.SENDING,
    )
    .values(
        status=bindparam("b_status"),
        sent_at=bindparam("b_sent_at"),
        channel_message_id=bindparam("b_message_id"),
        last_error=bindparam("b_error"),
        due_at=bindparam("b_due_at"),
        lease_owner=None,
        lease_until=None,
    )
    .execution_options(synchronize_session=False)
)


class Pacer:
    """Spaces request starts evenly, ``per_second`` at most (0: no spacing).

    The bot's rate limiter is a bucket: it lets 30 go at once and then 30/s, so a broadcast
    would burst up to twice the rate within a second. Campaigns have no reason to burst; an
    even pace keeps any one second at the limit."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(self._next, now)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class DeliveryWorker:
    """Claims due deliveries of the campaigns it has content for and sends them."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        sender: Sender,
        sources: Mapping[str, ContentSource],
        *,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.sender = sender
        self.sources = dict(sources)
        self.worker_id = worker_id or default_worker_id()
        cfg = settings.notices
        self.batch_size = cfg.batch_size
        self.lease = cfg.lease
        self.concurrency = cfg.concurrency
        self.max_attempts = cfg.max_attempts
        self._busy = asyncio.Lock()
        self._background: asyncio.Task[int] | None = None
        self._stopping = False
        self.pacer = Pacer(cfg.per_second or settings.telegram.rate_limit.per_second)
        self.sent = 0  # deliveries this worker recorded as sent

    # --- claiming ------------------------------------------------------------------------

    async def _take_over_expired(self, session: AsyncSession, now: datetime) -> None:
        """Rows of workers that died: a claimed one is sendable again; one that was being
        sent may have arrived, so it is never sent again. A worker never takes over its own
        rows: they are in flight (a request held up by 429s past the lease) and it records
        them itself."""
        expired = and_(
            Delivery.lease_until.is_not(None),
            Delivery.lease_until <= now,
            or_(Delivery.lease_owner.is_(None), Delivery.lease_owner != self.worker_id),
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.SENDING, expired)
            .values(
                status=DeliveryStatus.UNCONFIRMED,
                lease_owner=None,
                lease_until=None,
                last_error="the worker stopped while sending; not repeated",
            )
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.CLAIMED, expired)
            .values(status=DeliveryStatus.PENDING, lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    async def claim(self, now: datetime) -> list[Delivery]:
        """Claim up to ``batch_size`` due deliveries (urgent first); detached rows."""
        quiet = end_of_quiet_hours(self.settings, now) > now
        conditions: list[Any] = [
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.due_at <= now,
            or_(*(Delivery.campaign.like(f"{prefix}:%") for prefix in sorted(self.sources))),
        ]
        if quiet:
            conditions.append(Delivery.urgent.is_(True))
        pick = (
            select(Delivery.id)
            .where(*conditions)
            .order_by(Delivery.urgent.desc(), Delivery.due_at, Delivery.id)
            .limit(self.batch_size)
        )
        values = {
            "status": DeliveryStatus.CLAIMED,
            "lease_owner": self.worker_id,
            "lease_until": now + self.lease,
        }
        async with self.db.write() as session:
            await self._take_over_expired(session, now)
            if self.db.is_sqlite:
                stmt = update(Delivery).where(Delivery.id.in_(pick.scalar_subquery()))
            else:
                picked = pick.with_for_update(skip_locked=True).cte("picked")
                stmt = update(Delivery).where(Delivery.id == picked.c.id)
            stmt = (
                stmt.values(**values)
                .returning(Delivery)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            rows = list((await session.execute(stmt)).scalars().all())
        return sorted(rows, key=lambda r: (not r.urgent, r.due_at, r.id))

    # --- one round -----------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch and send it; return how many rows were claimed."""
        now = self.clock.now()
        rows = await self.claim(now)
        if rows:
            await self._deliver(rows)
        return len(rows)

    async def run_until_idle(self, max_batches: int = 100_000) -> int:
        """Send batches until nothing is due (or stopping); return how many were claimed.

        On PostgreSQL two lanes claim and send side by side, so one lane's store round trips
        (claiming, recording) overlap the other's sending and the pace never waits for them;
        the shared :class:`Pacer` keeps both together within the rate. SQLite has one lane.
        """

        async def lane() -> int:
            total = 0
            for _ in range(max_batches):
                if self._stopping:
                    break
                claimed = await self.run_once()
                total += claimed
                if claimed < self.batch_size:
                    break
            return total

        lanes = 1 if self.db.is_sqlite else 2
        return sum(await asyncio.gather(*(lane() for _ in range(lanes))))

    async def _deliver(self, rows: list[Delivery]) -> None:
        contents, skipped = await self._prepare(rows)
        sendable = [row for row in rows if row.id not in skipped]
        gate = asyncio.Semaphore(self.concurrency)
        results: dict[int, SendResult] = {}
        unstarted: list[int] = []

        async def one(row: Delivery) -> None:
            async with gate:
                if self._stopping or not await self._mark_sending(row.id):
                    unstarted.append(row.id)
                    return
                # Paced after the mark, right before the request: store latency under load
                # would otherwise bunch requests beyond the rate. A killed worker leaves at
                # most ``concurrency`` rows per lane unconfirmed that had not left yet.
                await self.pacer.wait()
                target = Target(
                    row.id, row.campaign, row.channel, row.chat_id, row.language, row.urgent
                )
                try:
                    results[row.id] = await self.sender.send(target, contents[row.id])
                except Exception as exc:  # a bug in a sender must not leave rows "sending"
                    log.exception("delivery %s: sender failed", row.id)
                    results[row.id] = SendResult(Outcome.FAILED, error=_error_text(exc))

        await asyncio.gather(*(one(row) for row in sendable))
        await self._record(rows, results, skipped, unstarted)

    async def _prepare(self, rows: list[Delivery]) -> tuple[dict[int, Any], dict[int, str]]:
        """Each row's content, and the rows not to send (opted out, campaign cancelled)."""
        contents: dict[int, Any] = {}
        skipped: dict[int, str] = {}
        cache: dict[tuple[str, str], Any] = {}
        async with self.db.session() as session:
            topics = {(r.contact_id, r.topic) for r in rows if r.topic and r.contact_id}
            opted: set[tuple[int, str]] = set()
            if topics:
                found = await session.execute(
                    select(OptOut.contact_id, OptOut.topic).where(
                        OptOut.contact_id.in_({c for c, _ in topics})
                    )
                )
                opted = {(c, t) for c, t in found}
            for row in rows:
                if row.topic and row.contact_id and (row.contact_id, row.topic) in opted:
                    skipped[row.id] = DeliveryStatus.OPTED_OUT
                    continue
                language = row.language or self.settings.default_language
                key = (row.campaign, language)
                if key not in cache:
                    source = self.sources[campaign_prefix(row.campaign)]
                    cache[key] = await source.content(session, row.campaign, language)
                if cache[key] is None:
                    skipped[row.id] = DeliveryStatus.CANCELLED
                    continue
                contents[row.id] = cache[key]
        return contents, skipped

    async def _mark_sending(self, delivery_id: int) -> bool:
        """Commit that this row's request may go out now; False if the row is not ours."""
        stmt = (
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.lease_owner == self.worker_id,
                Delivery.status == DeliveryStatus.CLAIMED,
            )
            .values(
                status=DeliveryStatus.SENDING,
                attempted_at=self.clock.now(),
                attempts=Delivery.attempts + 1,
            )
        )
        async with self.db.statement() as connection:
            result = await connection.execute(stmt)
        return bool(getattr(result, "rowcount", 0))

    async def _record(
        self,
        rows: Sequence[Delivery],
        results: Mapping[int, SendResult],
        skipped: Mapping[int, str],
        unstarted: Sequence[int],
    ) -> None:
        now = self.clock.now()
        by_id = {row.id: row for row in rows}
        params: list[dict[str, Any]] = []
        unreachable: set[int] = set()
        for row_id, result in results.items():
            row = by_id[row_id]
            status, due, sent_at = self._status_after(row, result, now)
            if status == DeliveryStatus.SENT:
                self.sent += 1
            if status == DeliveryStatus.UNREACHABLE and row.contact_id is not None:
                unreachable.add(row.contact_id)
            params.append(
                {
                    "b_id": row_id,
                    "b_owner": self.worker_id,
                    "b_status": status,
                    "b_sent_at": sent_at,
                    "b_message_id": result.message_id,
                    "b_error": result.error[:2000] if result.error else None,
                    "b_due_at": due or row.due_at,
                }
            )
        async with self.db.write() as session:
            if params:
                await (await session.connection()).execute(_RECORD, params)
            ours = and_(
                Delivery.lease_owner == self.worker_id,
                Delivery.status == DeliveryStatus.CLAIMED,
            )
            for status in {*skipped.values()}:
                ids = [i for i, s in skipped.items() if s == status]
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids), ours)
                    .values(status=status, lease_owner=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )
            if unstarted:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(list(unstarted)), ours)
                    .values(status=DeliveryStatus.PENDING, lease_owner=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )
            if unreachable:
                await session.execute(
                    update(Contact)
                    .where(Contact.id.in_(unreachable))
                    .values(unreachable=True)
                    .execution_options(synchronize_session=False)
                )

    def _status_after(
        self, row: Delivery, result: SendResult, now: datetime
    ) -> tuple[str, datetime | None, datetime | None]:
        """(status, next due time, sent time) for a row after its send's result."""
        attempts = row.attempts + 1
        if result.outcome == Outcome.SENT:
            return DeliveryStatus.SENT, None, now
        if result.outcome == Outcome.UNCONFIRMED:
            return DeliveryStatus.UNCONFIRMED, None, now
        if result.outcome == Outcome.UNREACHABLE:
            return DeliveryStatus.UNREACHABLE, None, None
        if result.outcome == Outcome.RETRY and attempts < self.max_attempts:
            backoff = min(timedelta(seconds=5 * 2 ** (attempts - 1)), timedelta(minutes=10))
            return DeliveryStatus.PENDING, now + backoff, None
        return DeliveryStatus.FAILED, None, None

    # --- running -------------------------------------------------------------------------

    async def wake(self) -> int:
        """Drain what is due; overlapping wake-ups are skipped; failures are logged."""
        if self._busy.locked() or self._stopping:
            return 0
        async with self._busy:
            sent_before = self.sent
            try:
                claimed = await self.run_until_idle()
                if self.sent > sent_before:
                    log.info(
                        "delivery worker %s: sent %d campaign messages",
                        self.worker_id,
                        self.sent - sent_before,
                    )
                return claimed
            except Exception as exc:  # the scheduler must keep waking us
                log_failure(log, exc, "delivery worker %s failed a round", self.worker_id)
                return 0

    def wake_soon(self) -> None:
        """Start :meth:`wake` in the background unless a round runs; return at once."""
        if self._background is None or self._background.done():
            self._background = asyncio.ensure_future(self.wake())

    def attach(self, scheduler: Any, interval: timedelta | None = None) -> Any:
        """Wake every ``interval`` (default ``notices.poll_interval``) from a PTB JobQueue."""
        seconds = (interval or self.settings.notices.poll_interval).total_seconds()

        async def _tick(_context: Any) -> None:
            self.wake_soon()

        return scheduler.run_repeating(
            _tick,
            interval=seconds,
            first=0,
            name=f"kefu-deliveries-{self.worker_id}",
            job_kwargs=QUIET_TICKS,
        )

    async def stop(self) -> None:
        """Stop claiming; finish the requests in flight and record them (graceful stop)."""
        self._stopping = True
        if self._background is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._background
            self._background = None


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
