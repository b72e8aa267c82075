"""Scheduling and cancelling follow-ups, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.followups.models import CUSTOMER_FACING, Followup, FollowupStatus
from bot.sla.calendar import end_of_quiet_hours

OPEN_STATUSES = (FollowupStatus.PENDING, FollowupStatus.CLAIMED)


def _insert_new_keys(insert: Any) -> Any:
    return (
        insert(Followup.__table__)
        .on_conflict_do_nothing(index_elements=[Followup.idempotency_key])
        .returning(Followup.idempotency_key)
    )


# Built once and run with a list of rows (SQLAlchemy's "insertmanyvalues": still one multi-row
# INSERT ... RETURNING): the compiled form is cached, where ``.values(rows)`` made a new
# statement per call whose cache key and compilation, with the JSON payloads, cost ~3 ms of
# CPU per opened ticket. Keyed by "is PostgreSQL".
_SCHEDULE_MANY = {True: _insert_new_keys(pg_insert), False: _insert_new_keys(sqlite_insert)}


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    return bind.dialect.name if bind is not None else "sqlite"


async def schedule(
    session: AsyncSession,
    *,
    kind: str,
    due_at: datetime,
    idempotency_key: str,
    now: datetime,
    ticket_id: int | None = None,
    conversation_id: int | None = None,
    payload: dict[str, Any] | None = None,
    to_customer: bool | None = None,
    urgent: bool = False,
    settings: Settings | None = None,
    revive: bool = False,
) -> Followup:
    """Schedule a follow-up once per ``idempotency_key``; return the (new or existing) row.

    Runs in the caller's transaction, so the follow-up exists exactly when the ticket change
    that caused it commits. Messages to residents (``to_customer``, default for surveys) that are
    not ``urgent`` are moved out of ``settings.sla.quiet_hours``. An existing row with the same
    key is left alone, unless ``revive`` and it was cancelled: then it is pending again at the
    new time (it was never sent).
    """
    if due_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("follow-up times must be timezone-aware")
    customer = kind in CUSTOMER_FACING if to_customer is None else to_customer
    if customer and not urgent and settings is not None:
        due_at = end_of_quiet_hours(settings, due_at)
    values: dict[str, Any] = {
        "kind": kind,
        "due_at": due_at,
        "idempotency_key": idempotency_key,
        "ticket_id": ticket_id,
        "conversation_id": conversation_id,
        "payload": payload or {},
        "to_customer": customer,
        "urgent": urgent,
        "status": FollowupStatus.PENDING,
        "attempts": 0,
        "created_at": now,
    }
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    stmt = insert(Followup).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=[Followup.idempotency_key])
    await session.execute(stmt)
    row = (
        await session.execute(
            select(Followup)
            .where(Followup.idempotency_key == idempotency_key)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if revive and row.status == FollowupStatus.CANCELLED:
        row.status = FollowupStatus.PENDING
        row.due_at = due_at
        row.payload = payload or {}
        row.lease_owner = None
        row.lease_until = None
        await session.flush()
    return row


@dataclass(frozen=True)
class Planned:
    """One follow-up for :func:`schedule_many` (the arguments of :func:`schedule`).

    ``keep_current``: an existing row with the key is made to match: pending again at the new
    time if it was cancelled (it was never sent), its payload replaced if it is pending.
    """

    kind: str
    due_at: datetime
    idempotency_key: str
    ticket_id: int | None = None
    conversation_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    to_customer: bool | None = None
    urgent: bool = False
    keep_current: bool = False


async def schedule_many(
    session: AsyncSession, planned: Sequence[Planned], *, now: datetime, settings: Settings
) -> None:
    """Schedule several follow-ups once per key, in one multi-row insert.

    The same rules as :func:`schedule` (caller's transaction, quiet hours for residents), at
    the cost of one statement for all of them when every key is new, as for a ticket that just
    opened: a ticket's SLA alerts were an insert and a read-back each, ~15 % of the CPU of
    repair traffic. Rows that already existed are read back (one query) only for
    ``keep_current`` items.
    """
    if not planned:
        return
    rows: list[dict[str, Any]] = []
    for item in planned:
        if item.due_at.tzinfo is None or now.tzinfo is None:
            raise ValueError("follow-up times must be timezone-aware")
        customer = item.kind in CUSTOMER_FACING if item.to_customer is None else item.to_customer
        due_at = item.due_at
        if customer and not item.urgent:
            due_at = end_of_quiet_hours(settings, due_at)
        rows.append(
            {
                "kind": item.kind,
                "due_at": due_at,
                "idempotency_key": item.idempotency_key,
                "ticket_id": item.ticket_id,
                "conversation_id": item.conversation_id,
                "payload": item.payload,
                "to_customer": customer,
                "urgent": item.urgent,
                "status": FollowupStatus.PENDING,
                "attempts": 0,
                "created_at": now,
            }
        )
    connection = await session.connection()
    stmt = _SCHEDULE_MANY[_dialect(session) == "postgresql"]
    inserted = set((await connection.execute(stmt, rows)).scalars())
    current = {
        item.idempotency_key: row
        for item, row in zip(planned, rows, strict=True)
        if item.keep_current and item.idempotency_key not in inserted
    }
    if not current:
        return
    existing = (
        await session.execute(
            select(Followup)
            .where(Followup.idempotency_key.in_(list(current)))
            .execution_options(populate_existing=True)
        )
    ).scalars()
    for followup in existing:
        wanted = current[followup.idempotency_key]
        if followup.status == FollowupStatus.CANCELLED:
            followup.status = FollowupStatus.PENDING
            followup.due_at = wanted["due_at"]
            followup.payload = wanted["payload"]
            followup.lease_owner = None
            followup.lease_until = None
        elif followup.status == FollowupStatus.PENDING and followup.payload != wanted["payload"]:
            followup.payload = wanted["payload"]


async def cancel_for_ticket(
    session: AsyncSession,
    ticket_id: int,
    kinds: Iterable[str] | None = None,
    *,
    keep_keys: Iterable[str] = (),
) -> int:
    """Cancel a ticket's pending (or in-flight) follow-ups of ``kinds`` (all kinds if None).

    A worker holding one of them sees it cancelled when it locks the row and does not run it.
    Returns how many were cancelled.
    """
    stmt = (
        update(Followup)
        .where(Followup.ticket_id == ticket_id, Followup.status.in_(OPEN_STATUSES))
        .values(status=FollowupStatus.CANCELLED, lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if kinds is not None:
        stmt = stmt.where(Followup.kind.in_(list(kinds)))
    keep = list(keep_keys)
    if keep:
        stmt = stmt.where(Followup.idempotency_key.not_in(keep))
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def list_followups(
    session: AsyncSession,
    *,
    ticket_id: int | None = None,
    statuses: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    limit: int = 100,
) -> Sequence[Followup]:
    """Follow-ups by due time (optionally one ticket's, or only some statuses or kinds)."""
    stmt = select(Followup).order_by(Followup.due_at, Followup.id).limit(limit)
    if ticket_id is not None:
        stmt = stmt.where(Followup.ticket_id == ticket_id)
    if statuses is not None:
        stmt = stmt.where(Followup.status.in_(list(statuses)))
    if kinds is not None:
        stmt = stmt.where(Followup.kind.in_(list(kinds)))
    return (await session.execute(stmt)).scalars().all()


async def prune(session: AsyncSession, before: datetime) -> int:
    """Delete finished follow-ups (done, cancelled, failed) created before ``before``.

    Their keys go with them, so only prune past any chance of the same key being scheduled
    again (e.g. keep a few months). Returns how many rows were deleted.
    """
    stmt = (
        delete(Followup)
        .where(
            Followup.status.in_(
                [FollowupStatus.DONE, FollowupStatus.CANCELLED, FollowupStatus.FAILED]
            ),
            Followup.created_at < before,
        )
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
