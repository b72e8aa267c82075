"""What Kefu already knows about a contact's flat: the linked resident's unit (the register is
the authority), else the flat the contact used last. A chat whose Telegram-verified phone is in
the register is linked on the way, as the fees action does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.nlu.entities import parse_unit
from bot.records.residents import link_contact_by_phone, residents_for_contact
from bot.store.models import Contact


async def known_unit(
    session: AsyncSession, contact: Contact, *, now: datetime, region: str
) -> dict[str, Any] | str | None:
    """The contact's flat as unit parts (or text Kefu could not parse), or None if unknown."""
    residents = await residents_for_contact(session, contact.id) if contact.id else []
    if not residents and contact.id and contact.phone and contact.phone_verified:
        linked = await link_contact_by_phone(
            session, contact, contact.phone, now=now, region=region
        )
        residents = [linked] if linked is not None else []
    if residents:
        resident = residents[0]
        parts = {k: v for k, v in (resident.unit_parts or {}).items() if v is not None}
        return parts or parse_unit(resident.unit_display) or resident.unit_display
    if contact.unit:
        return parse_unit(contact.unit) or contact.unit
    return None


async def contact_unit(contact_id: Any, *, now: datetime) -> dict[str, Any] | str | None:
    """:func:`known_unit` for an action, by the contact id the engine passes in the metadata."""
    from bot.actions import runtime

    if not contact_id:
        return None
    async with runtime.transaction() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            return None
        region = runtime.services().settings.default_region
        return await known_unit(session, contact, now=now, region=region)
