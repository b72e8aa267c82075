"""Follow-up workers: claim due rows under a lease, run their handler, complete them.

Exactly-once, as far as the database can see: a row is claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL) and a lease; it is then handled in a
transaction that first locks it again and checks it is still ours and still claimed, runs the
handler's writes (e.g. an outbound message in the outbox) and marks it done, all committed
together. A worker that dies mid-way loses its transaction; when its lease ends another worker
reclaims the row. SQLite allows a single worker process.

APScheduler (or PTB's JobQueue) only wakes :meth:`FollowupWorker.wake`; no follow-up lives in a
scheduler job store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.followups.lease import claim_due, default_worker_id
from bot.followups.models import Followup, FollowupStatus
from bot.sla.calendar import end_of_quiet_hours
from bot.store.db import Database, is_outage, log_failure

log = logging.getLogger(__name__)

# For a scheduler job whose callback only starts work in the background (it returns at once
# and skips a tick while a round runs): a tick delayed by a busy event loop is neither a
# "skipped, maximum number of running instances" nor a "missed" warning at every interval.
QUIET_TICKS: dict[str, Any] = {"max_instances": 10, "coalesce": True, "misfire_grace_time": None}


class FollowupHandler(Protocol):
    """Does what a follow-up of one kind means (send a survey, alert staff...).

    Called inside the transaction that completes the follow-up: write effects through
    ``session`` (e.g. outbound :class:`~bot.store.models.Message` rows) so they commit exactly
    when the follow-up is marked done. Raise to have it retried later. A handler whose
    effects all go through ``session`` may set a class attribute ``transactional = True``:
    batches of such follow-ups run faster (no savepoint per row).
    """

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Carry out ``followup``."""
        ...


class Seed(Protocol):
    """Schedules a recurring follow-up (a daily run, a quarterly campaign) once per day,
    idempotently (its own key), in the session given: :meth:`FollowupWorker.add_seed`."""

    async def __call__(self, session: AsyncSession, now: datetime) -> None: ...


class FollowupWorker:
    """Claims and runs due follow-ups for the handlers it knows.

    Use :meth:`run_once` / :meth:`run_until_idle` directly (tests, CLI), or :meth:`attach` it to
    an APScheduler ``AsyncIOScheduler`` or a PTB ``JobQueue`` that wakes it periodically.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        handlers: Mapping[str, FollowupHandler],
        *,
        worker_id: str | None = None,
        batch_size: int | None = None,
        lease: timedelta | None = None,
        concurrency: int | None = None,
        claim_all: bool = False,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.handlers = dict(handlers)
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size or settings.sla.batch_size
        self.lease = lease or settings.sla.lease
        self.concurrency = concurrency or settings.sla.worker_concurrency
        self.claim_all = claim_all
        self._busy = asyncio.Lock()
        self._background: asyncio.Task[int] | None = None
        self.seeds: list[Seed] = []
        self._seeded: Any = None  # the local day the seeds last ran in this process

    def add_seed(self, seed: Seed) -> None:
        """Run ``seed`` once per local day in this process, before claiming: recurring work
        (daily fee reminders, quarterly evaluations) lives in the follow-ups table like
        everything else, and a seed's idempotency key makes many workers schedule it once."""
        self.seeds.append(seed)

    async def _run_seeds(self, now: datetime) -> None:
        day = now.astimezone(self.settings.tz).date()
        if not self.seeds or self._seeded == day:
            return
        async with self.db.write() as session:
            for seed in self.seeds:
                await seed(session, now)
        self._seeded = day

    @property
    def kinds(self) -> list[str] | None:
        """The kinds this worker claims: those it has handlers for, unless told to take
        everything (then unknown kinds fail visibly instead of waiting forever).

        Read at every claim, not fixed at construction: ``kefu run`` adds the agents' desk's
        handlers (claim reminders, SLA alerts to the group, topic reopening) to a worker the
        app built, and a kind list taken before that left those rows unclaimed forever."""
        return None if self.claim_all else sorted(self.handlers)

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim one batch of due follow-ups and run them; return how many were claimed."""
        now = now or self.clock.now()
        await self._run_seeds(now)
        rows = await claim_due(
            self.db, self.worker_id, now, self.batch_size, self.lease, kinds=self.kinds
        )
        if rows:
            await self.process(rows, now)
        return len(rows)

    async def run_until_idle(self, now: datetime | None = None, max_batches: int = 10_000) -> int:
        """Run batches until nothing is due; return how many follow-ups were claimed.

        On PostgreSQL ``concurrency`` lanes claim and run batches side by side, so one lane's
        round trips overlap another's; SQLite has one lane. The other lanes start only once a
        first batch came back full: most wake-ups (every ``sla.poll_interval``) find nothing
        due, and ``concurrency`` empty claim transactions a second cost every idle process
        CPU and the database round trips for nothing.
        """
        lanes = 1 if self.db.is_sqlite else self.concurrency
        first = await self.run_once(now)
        if first < self.batch_size or max_batches <= 1:
            return first

        async def lane() -> int:
            total = 0
            for _ in range(max_batches - 1):
                claimed = await self.run_once(now)
                total += claimed
                if claimed < self.batch_size:
                    break
            return total

        return first + sum(await asyncio.gather(*(lane() for _ in range(lanes))))

    async def wake(self) -> int:
        """What the scheduler calls: drain what is due; overlapping wake-ups are skipped."""
        if self._busy.locked():
            return 0
        async with self._busy:
            try:
                return await self.run_until_idle()
            except Exception as exc:  # the scheduler must keep waking us; the rows stay leased
                # An outage meets every round: the store logs it once, not each round here.
                log_failure(log, exc, "follow-up worker %s failed a round", self.worker_id)
                return 0

    def wake_soon(self) -> None:
        """Start :meth:`wake` in the background unless a round is running, and return at once.

        For a scheduler's job: a round slower than the interval (an outage, a connect timeout)
        then never makes the scheduler warn about a skipped run at every tick.
        """
        if self._background is None or self._background.done():
            self._background = asyncio.ensure_future(self.wake())

    async def stop_background(self) -> None:
        """Let a round started by :meth:`wake_soon` finish (shutting down)."""
        if self._background is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
            self._background = None

    async def next_due(self) -> datetime | None:
        """When the earliest pending follow-up is due (None if there is none)."""
        stmt = select(func.min(Followup.due_at)).where(Followup.status == FollowupStatus.PENDING)
        if self.kinds is not None:
            stmt = stmt.where(Followup.kind.in_(self.kinds))
        async with self.db.session() as session:
            value: datetime | None = (await session.execute(stmt)).scalar_one_or_none()
            return value

    async def run_forever(self, stop: asyncio.Event, idle: timedelta | None = None) -> None:
        """Work until ``stop`` is set, without a scheduler: drain what is due, then wait until
        the next follow-up is due, at most ``idle`` (default ``sla.poll_interval``), so rows
        scheduled by other processes are noticed."""
        idle_seconds = (idle or self.settings.sla.poll_interval).total_seconds()
        while not stop.is_set():
            claimed = await self.wake()
            if claimed >= self.batch_size:
                continue
            wait = idle_seconds
            try:
                upcoming = await self.next_due()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                upcoming = None  # the store is away: look again after the idle wait
            if upcoming is not None:
                until = (upcoming - self.clock.now()).total_seconds()
                wait = min(idle_seconds, max(until, 0.01))  # never spin on a locked row
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)

    def attach(self, scheduler: Any, interval: timedelta | None = None) -> Any:
        """Wake this worker every ``interval`` (default ``sla.poll_interval``).

        ``scheduler`` is an APScheduler 3 scheduler (``add_job``) or a PTB ``JobQueue``
        (``run_repeating``). Only this wake-up job lives in the scheduler, in memory.
        """
        seconds = (interval or self.settings.sla.poll_interval).total_seconds()
        if hasattr(scheduler, "run_repeating"):  # python-telegram-bot JobQueue

            async def _ptb_callback(_context: Any) -> None:
                self.wake_soon()

            return scheduler.run_repeating(
                _ptb_callback,
                interval=seconds,
                first=0,
                name=f"kefu-followups-{self.worker_id}",
                job_kwargs=QUIET_TICKS,
            )
        return scheduler.add_job(
            self.wake,
            "interval",
            seconds=seconds,
            id=f"kefu-followups-{self.worker_id}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            jobstore="default",
        )

    # --- processing ---------------------------------------------------------------------

    async def process(self, claimed: Sequence[Followup], now: datetime) -> None:
        """Run claimed follow-ups.

        PostgreSQL: one transaction per batch. When every handler in the batch is
        ``transactional`` (all its effects go through the session) the batch runs without
        savepoints and, should one fail, is rolled back and rerun with a savepoint per row;
        otherwise a savepoint per row from the start, so a failing row never makes another
        row's non-transactional effect (e.g. a staff alert) happen twice.
        SQLite: one transaction per row (its savepoints are unreliable through pysqlite).
        """
        ids = [row.id for row in claimed]
        if self.db.is_sqlite:
            for followup_id in ids:
                await self._process_one_sqlite(followup_id, now)
            return
        kinds = {row.kind for row in claimed}
        optimistic = all(getattr(self.handlers.get(kind), "transactional", False) for kind in kinds)
        if optimistic:
            try:
                await self._process_batch(ids, now, savepoints=False)
                return
            except _HandlerFailed:
                pass  # rolled back; rerun row by row inside savepoints
        await self._process_batch(ids, now, savepoints=True)

    async def _run_rows(
        self, session: AsyncSession, rows: list[Followup], now: datetime, *, savepoints: bool
    ) -> list[int]:
        """Run each row's handler; return the ids that succeeded."""
        done: list[int] = []
        for row in rows:
            if self._defer_for_quiet_hours(row, now):
                continue
            handler = self.handlers.get(row.kind)
            if handler is None:
                self._fail(row, now, f"no handler for follow-up kind {row.kind!r}", final=True)
                continue
            if not savepoints:
                try:
                    await handler.handle(row, session)
                except Exception as exc:
                    raise _HandlerFailed(row.id) from exc
                done.append(row.id)
                continue
            try:
                async with session.begin_nested():
                    await handler.handle(row, session)
            except RetryLater as exc:
                self._retry(row, now, exc)
                continue
            except Exception as exc:
                if is_outage(exc):
                    raise  # not the row's fault: it stays leased and is claimed again later
                log.warning("follow-up %s (%s) failed: %r", row.id, row.kind, exc)
                self._fail(row, now, _error_text(exc))
                continue
            done.append(row.id)
        return done

    async def _mark_done(self, session: AsyncSession, ids: list[int], now: datetime) -> None:
        if ids:
            await session.execute(
                update(Followup)
                .where(Followup.id.in_(ids))
                .values(status=FollowupStatus.DONE, done_at=now, lease_until=None, last_error=None)
                .execution_options(synchronize_session=False)
            )

    async def _process_batch(self, ids: list[int], now: datetime, *, savepoints: bool) -> None:
        async with self.db.write() as session:
            rows = await self._lock_ours(session, ids)
            done = await self._run_rows(session, rows, now, savepoints=savepoints)
            await self._mark_done(session, done, max(now, self.clock.now()))

    async def _process_one_sqlite(self, followup_id: int, now: datetime) -> None:
        try:
            async with self.db.write() as session:
                rows = await self._lock_ours(session, [followup_id])
                done = await self._run_rows(session, rows, now, savepoints=False)
                await self._mark_done(session, done, max(now, self.clock.now()))
        except Exception as exc:
            cause = exc.__cause__ if isinstance(exc, _HandlerFailed) and exc.__cause__ else exc
            if is_outage(cause):
                raise  # nothing can be recorded now; the lease runs out, the row comes back
            if not isinstance(cause, RetryLater):
                log.warning("follow-up %s failed: %r", followup_id, cause)
            async with self.db.write() as session:
                for row in await self._lock_ours(session, [followup_id]):
                    if isinstance(cause, RetryLater):
                        self._retry(row, now, cause)
                    else:
                        self._fail(row, now, _error_text(cause))

    async def _lock_ours(self, session: AsyncSession, ids: list[int]) -> list[Followup]:
        stmt = (
            select(Followup)
            .where(
                Followup.id.in_(ids),
                Followup.status == FollowupStatus.CLAIMED,
                Followup.lease_owner == self.worker_id,
            )
            .order_by(Followup.id)
            .execution_options(populate_existing=True)
        )
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        return list((await session.execute(stmt)).scalars().all())

    def _defer_for_quiet_hours(self, row: Followup, now: datetime) -> bool:
        if not row.to_customer or row.urgent:
            return False
        resume = end_of_quiet_hours(self.settings, now)
        if resume <= now:
            return False
        row.status = FollowupStatus.PENDING
        row.payload = {**(row.payload or {}), "deferred_from": row.due_at.isoformat()}
        row.due_at = resume
        row.lease_owner = None
        row.lease_until = None
        row.attempts = max(0, row.attempts - 1)  # not a real attempt
        return True

    def _retry(self, row: Followup, now: datetime, exc: RetryLater) -> None:
        row.status = FollowupStatus.PENDING
        row.due_at = now + exc.after
        row.last_error = f"retry: {exc}"[:2000]
        row.lease_owner = None
        row.lease_until = None
        row.attempts = max(0, row.attempts - 1)  # waiting is not failing

    def _fail(self, row: Followup, now: datetime, error: str, *, final: bool = False) -> None:
        row.last_error = error[:2000]
        row.lease_owner = None
        row.lease_until = None
        if final or row.attempts >= self.settings.sla.max_attempts:
            row.status = FollowupStatus.FAILED
            row.done_at = now
            log.error("follow-up %s (%s) failed for good: %s", row.id, row.kind, error)
            return
        row.status = FollowupStatus.PENDING
        # Exponential back-off: 30 s, 1 min, 2 min, ... capped at one hour.
        row.due_at = now + min(
            timedelta(seconds=30 * 2 ** max(0, row.attempts - 1)), timedelta(hours=1)
        )


class RetryLater(Exception):
    """Raised by a handler when now is not the moment (e.g. the customer is mid-conversation):
    the follow-up is tried again ``after`` later, without counting as a failed attempt."""

    def __init__(self, reason: str = "not now", after: timedelta = timedelta(minutes=1)) -> None:
        super().__init__(reason)
        self.after = after


class _HandlerFailed(Exception):
    """A handler raised in a batch without savepoints: the batch must be rolled back."""


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
