"""Who a unit is and why it must not be reminded: linked chats, arrangements, fee disputes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.fees.models import FeeArrangement
from bot.nlu.entities import unit_key as key_of_parts
from bot.records.models import ContactResident, Resident
from bot.records.units import read_unit
from bot.store.models import Contact, Conversation, Ticket, TicketKind, TicketStatus

# The complaint category of a fee dispute (「你哋計錯數」, "you overcharged me").
DISPUTE_CATEGORY = "fees"


@dataclass(frozen=True, slots=True)
class UnitChat:
    """A chat linked (by a verified phone) to a unit: where its reminders go."""

    unit_key: str
    contact_id: int
    conversation_id: int
    channel: str
    chat_id: str


async def linked_chats(
    session: AsyncSession, unit_keys: Collection[str]
) -> dict[str, list[UnitChat]]:
    """Every reachable chat of each unit (one per contact: its latest conversation)."""
    if not unit_keys:
        return {}
    rows = (
        await session.execute(
            select(Resident.unit_key, Contact.id, Conversation)
            .join(ContactResident, ContactResident.resident_id == Resident.id)
            .join(Contact, Contact.id == ContactResident.contact_id)
            .join(Conversation, Conversation.contact_id == Contact.id)
            .where(
                Resident.unit_key.in_(list(unit_keys)),
                ContactResident.verified.is_(True),
                Contact.unreachable.is_not(True),
            )
            .order_by(Resident.unit_key, Contact.id, Conversation.id.desc())
        )
    ).all()
    chats: dict[str, list[UnitChat]] = {}
    seen: set[tuple[str, int]] = set()
    for unit_key, contact_id, conversation in rows:
        if (unit_key, contact_id) in seen:
            continue
        seen.add((unit_key, contact_id))
        chats.setdefault(unit_key, []).append(
            UnitChat(
                unit_key, contact_id, conversation.id, conversation.channel, conversation.chat_id
            )
        )
    return chats


async def arranged_units(session: AsyncSession, today: date) -> set[str]:
    """Units on a payment arrangement running on ``today``."""
    rows = await session.scalars(
        select(FeeArrangement.unit_key).where(
            FeeArrangement.starts_on <= today,
            FeeArrangement.ended_at.is_(None),
            or_(FeeArrangement.ends_on.is_(None), FeeArrangement.ends_on >= today),
        )
    )
    return set(rows)


async def disputed_units(session: AsyncSession) -> set[str]:
    """Units with an open fee complaint: the unit named on the ticket, or any unit its
    complainant's chat is linked to."""
    tickets = (
        await session.execute(
            select(Ticket.unit, Ticket.details, Ticket.contact_id, Ticket.language).where(
                Ticket.kind == TicketKind.COMPLAINT,
                Ticket.category == DISPUTE_CATEGORY,
                Ticket.status.in_(TicketStatus.OPEN_STATES),
            )
        )
    ).all()
    units: set[str] = set()
    contacts: set[int] = set()
    for unit, details, contact_id, language in tickets:
        parts = (details or {}).get("unit")
        text = unit or ""
        if isinstance(parts, dict):
            key = key_of_parts(parts)
            if key:
                units.add(key)
        elif text:
            read = read_unit(text, language or "zh-Hant")
            if read is not None:
                units.add(read.key)
        if contact_id is not None:
            contacts.add(contact_id)
    if contacts:
        linked = await session.scalars(
            select(Resident.unit_key)
            .join(ContactResident, ContactResident.resident_id == Resident.id)
            .where(ContactResident.contact_id.in_(contacts))
        )
        units.update(linked)
    return units


async def stopped_units(session: AsyncSession, today: date) -> dict[str, str]:
    """Units that get no reminder now, with the reason (``arrangement`` or ``disputed``)."""
    stopped = {unit: "disputed" for unit in await disputed_units(session)}
    stopped.update({unit: "arrangement" for unit in await arranged_units(session, today)})
    return stopped
