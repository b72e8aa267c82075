"""Leases on follow-up rows: claim due ones for a worker, complete them only if still held.

A row is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer)
and a lease until ``now + lease``; rows whose lease ran out (their worker died) are taken over
first. Completing checks the row is still claimed, and by whom, in the caller's transaction,
so a handler's effects and the row's ``done`` commit together or not at all.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.followups.models import Followup, FollowupStatus
from bot.store.db import Database

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """``host:pid:random`` — unique per worker instance."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _due_pending(now: datetime) -> Any:
    return and_(Followup.status == FollowupStatus.PENDING, Followup.due_at <= now)


def _lease_expired(now: datetime) -> Any:
    return and_(Followup.status == FollowupStatus.CLAIMED, Followup.lease_until <= now)


async def _claim(
    session: AsyncSession,
    where: Any,
    order: Any,
    worker_id: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    postgres: bool,
) -> list[Followup]:
    pick = select(Followup.id).where(where).order_by(order, Followup.id).limit(limit)
    values = {
        "status": FollowupStatus.CLAIMED,
        "lease_owner": worker_id,
        "lease_until": now + lease,
        "attempts": Followup.attempts + 1,
    }
    if postgres:
        # Lock the picked rows, skipping rows other workers hold, then update exactly those.
        picked = pick.with_for_update(skip_locked=True).cte("picked")
        stmt = update(Followup).where(Followup.id == picked.c.id)
    else:
        stmt = update(Followup).where(Followup.id.in_(pick.scalar_subquery()))
    stmt = (
        stmt.values(**values)
        .returning(Followup)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars().all())


async def claim_due(
    db: Database,
    worker_id: str,
    now: datetime,
    limit: int = 100,
    lease: timedelta = timedelta(seconds=60),
    kinds: Collection[str] | None = None,
) -> list[Followup]:
    """Claim up to ``limit`` due follow-ups for ``worker_id`` until ``now + lease``.

    Only ``kinds`` if given (a worker claims only what it has handlers for). Rows whose lease
    has expired (their worker died) are taken over first. Returns detached rows, oldest due
    first.
    """
    postgres = not db.is_sqlite
    expired, pending = _lease_expired(now), _due_pending(now)
    if kinds is not None:
        expired = and_(expired, Followup.kind.in_(list(kinds)))
        pending = and_(pending, Followup.kind.in_(list(kinds)))
    async with db.write() as session:
        rows = await _claim(
            session, expired, Followup.lease_until, worker_id, now, limit, lease, postgres
        )
        if len(rows) < limit:
            rows += await _claim(
                session,
                pending,
                Followup.due_at,
                worker_id,
                now,
                limit - len(rows),
                lease,
                postgres,
            )
    if rows:
        log.debug("worker %s claimed %d follow-ups", worker_id, len(rows))
    return sorted(rows, key=lambda r: (r.due_at, r.id))


async def complete(
    session: AsyncSession, followup: Followup, now: datetime, worker_id: str | None = None
) -> bool:
    """Mark a claimed follow-up done (in the caller's transaction).

    With ``worker_id``, only if that worker still holds it. False if it was not ours anymore.
    """
    stmt = (
        update(Followup)
        .where(Followup.id == followup.id, Followup.status == FollowupStatus.CLAIMED)
        .values(status=FollowupStatus.DONE, done_at=now, lease_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    if worker_id is not None:
        stmt = stmt.where(Followup.lease_owner == worker_id)
    result = await session.execute(stmt)
    ok = bool(getattr(result, "rowcount", 0))
    if ok:
        followup.status = FollowupStatus.DONE
        followup.done_at = now
    return ok
