"""The resident registry (一戶一檔) and the link between chats and residents.

A chat is linked to a resident when the phone number it shares — verified by the channel, e.g.
Telegram's contact button or ``kefu chat --phone`` — is registered. Only linked chats see their
unit's fees and tickets.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SystemClock
from bot.records.models import ContactResident, Resident
from bot.records.values import mask_phone, try_phone
from bot.store.models import Contact

log = logging.getLogger(__name__)


async def link_contact_by_phone(
    session: AsyncSession,
    contact: Contact,
    phone: str,
    verified: bool = True,
    *,
    now: datetime | None = None,
    region: str = "HK",
) -> Resident | None:
    """Record ``phone`` on ``contact`` and, if verified and registered, link the resident(s).

    Returns the first linked resident (owners before tenants), or None when the number is
    invalid, unverified or not in the registry. An unverified number never links and never
    replaces a verified one. One number registered for several units links them all.
    """
    now = now or SystemClock().now()
    e164 = try_phone(phone, region)
    if e164 is None:
        return None
    if not verified:
        if not contact.phone_verified:
            contact.phone = e164
            contact.updated_at = now
        return None
    contact.phone = e164
    contact.phone_verified = True
    contact.updated_at = now
    residents = (
        await session.scalars(
            select(Resident).where(Resident.phone == e164).order_by(Resident.role, Resident.id)
        )
    ).all()
    if not residents:
        log.info("contact %s shared %s: not in the registry", contact.id, mask_phone(e164))
        return None
    await session.flush()
    linked = set(
        (
            await session.scalars(
                select(ContactResident.resident_id).where(ContactResident.contact_id == contact.id)
            )
        ).all()
    )
    for resident in residents:
        if resident.id not in linked:
            session.add(
                ContactResident(
                    contact_id=contact.id, resident_id=resident.id, verified=True, linked_at=now
                )
            )
    await session.flush()
    log.info("contact %s linked to %d resident(s)", contact.id, len(residents))
    return residents[0]


async def residents_for_contact(session: AsyncSession, contact_id: int) -> list[Resident]:
    """The residents a chat is linked to (verified links only), owners first."""
    return list(
        (
            await session.scalars(
                select(Resident)
                .join(ContactResident, ContactResident.resident_id == Resident.id)
                .where(ContactResident.contact_id == contact_id, ContactResident.verified.is_(True))
                .order_by(Resident.role, Resident.id)
            )
        ).all()
    )


async def units_for_contact(session: AsyncSession, contact_id: int) -> list[str]:
    """Unit keys a chat may see (its linked residents' units), without duplicates."""
    seen: dict[str, None] = {}
    for resident in await residents_for_contact(session, contact_id):
        seen.setdefault(resident.unit_key, None)
    return list(seen)


async def may_see_unit(session: AsyncSession, contact_id: int, unit_key: str) -> bool:
    """Whether this chat is linked to ``unit_key`` (the check for fees and unit tickets)."""
    return unit_key in await units_for_contact(session, contact_id)
