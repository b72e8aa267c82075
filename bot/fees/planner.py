"""The daily reminder run: which unpaid items reach a reminder stage today, grouped per unit.

Exactly once, whatever the workers and restarts: the run itself is a follow-up (one per day,
``fee_plan:<date>``); each (item, stage) is a ``fee_reminders`` row inserted at most once (a
unique key); the rows one run inserted for a unit ride on one follow-up (``fee_reminder``),
whose handler writes the one message to the outbox in the same transaction as it marks them
sent. A stage missed while nothing ran is not sent late once a later stage is due: only the
latest due stage of an item counts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.fees.models import FeeReminder, ReminderStatus
from bot.fees.units import stopped_units
from bot.followups.service import schedule
from bot.records.models import FeeItem

PLAN_KIND = "fee_plan"
REMINDER_KIND = "fee_reminder"
THANKS_KIND = "fee_thanks"


def local_day(settings: Settings, now: datetime) -> date:
    """``now``'s date in the office's time zone."""
    return now.astimezone(settings.tz).date()


async def seed_plan(session: AsyncSession, now: datetime, settings: Settings) -> None:
    """Schedule today's reminder run (once per day, whoever asks first)."""
    config = settings.fees.reminders
    if not config.enabled:
        return
    today = local_day(settings, now)
    due = datetime.combine(today, config.send_at, tzinfo=settings.tz)
    await schedule(
        session,
        kind=PLAN_KIND,
        due_at=due,
        idempotency_key=f"{PLAN_KIND}:{today.isoformat()}",
        now=now,
        to_customer=False,
        payload={"day": today.isoformat()},
    )


def stage_due(due_date: date, today: date, offsets: list[int]) -> int | None:
    """The latest offset whose day has come for an item due on ``due_date`` (None: none yet)."""
    reached = [offset for offset in offsets if due_date + timedelta(days=offset) <= today]
    return reached[-1] if reached else None


async def plan_reminders(
    session: AsyncSession, settings: Settings, now: datetime, today: date | None = None
) -> dict[str, list[int]]:
    """Plan today's reminders: new ``fee_reminders`` rows and one follow-up per unit.

    Returns the reminder ids planned per unit (empty when everything was planned already).
    """
    config = settings.fees.reminders
    today = today or local_day(settings, now)
    earliest = today - timedelta(days=config.offsets[-1] + 3650)
    latest = today - timedelta(days=config.offsets[0])
    items = (
        await session.scalars(
            select(FeeItem).where(FeeItem.due_date <= latest, FeeItem.due_date >= earliest)
        )
    ).all()
    unpaid = [item for item in items if (item.amount or 0) - (item.paid_amount or 0) > 0]
    if not unpaid:
        return {}
    stopped = await stopped_units(session, today)
    already = await _planned_offsets(session, [item.id for item in unpaid])
    wanted: list[dict[str, Any]] = []
    for item in unpaid:
        if item.unit_key in stopped:
            continue
        offset = stage_due(item.due_date, today, config.offsets)
        if offset is None:
            continue
        if any(done >= offset for done in already.get(item.id, ())):
            continue  # this stage or a later one went out (or was planned) already
        wanted.append(
            {
                "fee_item_id": item.id,
                "unit_key": item.unit_key,
                "offset_days": offset,
                "run_on": today,
                "followup_key": f"{REMINDER_KIND}:{item.unit_key}:{today.isoformat()}",
                "status": ReminderStatus.PLANNED,
                "chats": 0,
                "created_at": now,
            }
        )
    if not wanted:
        return {}
    insert = pg_insert if _is_postgres(session) else sqlite_insert
    stmt = (
        insert(FeeReminder)
        .values(wanted)
        .on_conflict_do_nothing(index_elements=["fee_item_id", "offset_days"])
        .returning(FeeReminder.id, FeeReminder.unit_key)
    )
    planned: dict[str, list[int]] = defaultdict(list)
    for reminder_id, unit_key in (await session.execute(stmt)).all():
        planned[unit_key].append(reminder_id)
    for unit_key, ids in planned.items():
        # A second run on the same day (new items imported since) gets a follow-up of its own.
        key = f"{REMINDER_KIND}:{unit_key}:{today.isoformat()}:{min(ids)}"
        await session.execute(
            update(FeeReminder)
            .where(FeeReminder.id.in_(ids))
            .values(followup_key=key)
            .execution_options(synchronize_session=False)
        )
        await schedule(
            session,
            kind=REMINDER_KIND,
            due_at=now,
            idempotency_key=key,
            now=now,
            to_customer=True,
            settings=settings,
            payload={"unit_key": unit_key, "reminders": sorted(ids)},
        )
    return dict(planned)


async def _planned_offsets(session: AsyncSession, item_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for chunk_start in range(0, len(item_ids), 1000):
        chunk = item_ids[chunk_start : chunk_start + 1000]
        rows = await session.execute(
            select(FeeReminder.fee_item_id, FeeReminder.offset_days).where(
                FeeReminder.fee_item_id.in_(chunk)
            )
        )
        for item_id, offset in rows.all():
            found[item_id].append(offset)
    return found


def _is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"
