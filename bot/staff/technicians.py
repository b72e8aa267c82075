"""The technician register: add (or update), list, find (``kefu technicians add|list``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.records.values import try_phone
from bot.staff.models import Technician


class TechnicianError(ValueError):
    """A register request that cannot be done; the message says why."""


async def add_technician(
    session: AsyncSession,
    name: str,
    *,
    now: datetime,
    region: str,
    phone: str | None = None,
    trade: str | None = None,
    telegram_chat_id: int | None = None,
) -> Technician:
    """Register a technician, or update (and re-activate) the one with that name."""
    name = name.strip()
    if not name:
        raise TechnicianError("a technician needs a name")
    number = None
    if phone:
        number = try_phone(phone, region)
        if number is None:
            raise TechnicianError(f"{phone!r} is not a phone number")
    row = await find_technician(session, name, active_only=False)
    if row is None:
        row = Technician(name=name[:100], created_at=now)
        session.add(row)
    row.phone = number or row.phone
    row.trade = (trade or "").strip()[:32] or row.trade
    if telegram_chat_id is not None:
        row.telegram_chat_id = telegram_chat_id
    row.active = True
    row.updated_at = now
    await session.flush()
    return row


async def list_technicians(
    session: AsyncSession, *, include_inactive: bool = False
) -> Sequence[Technician]:
    """Technicians by name."""
    stmt = select(Technician).order_by(Technician.name, Technician.id)
    if not include_inactive:
        stmt = stmt.where(Technician.active.is_(True))
    return (await session.execute(stmt)).scalars().all()


async def find_technician(
    session: AsyncSession, name: str, *, active_only: bool = True
) -> Technician | None:
    """A technician by name (case-insensitive)."""
    name = name.strip()
    if not name:
        return None
    stmt = select(Technician).where(func.lower(Technician.name) == name.lower())
    if active_only:
        stmt = stmt.where(Technician.active.is_(True))
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()
