"""Households for the fee and evaluation tests: a resident, a linked chat, fee items."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.records.models import ContactResident, FeeItem, Resident
from bot.records.units import read_unit
from bot.store.models import ChannelIdentity, Contact, Conversation


async def household(
    session: AsyncSession,
    unit_text: str,
    *,
    now: datetime,
    phone: str,
    chat_id: str | None,
    channel: str = "terminal",
    language: str = "en",
) -> tuple[str, int | None]:
    """A resident of ``unit_text`` and, with ``chat_id``, a chat linked to it by a verified
    phone. Returns (unit key, conversation id)."""
    unit = read_unit(unit_text, "zh-Hant")
    assert unit is not None, unit_text
    resident = Resident(
        unit_key=unit.key,
        unit_display=unit.display,
        unit_parts=unit.parts,
        name=f"Owner {unit_text}",
        phone=phone,
        role="owner",
        created_at=now,
        updated_at=now,
    )
    session.add(resident)
    await session.flush()
    if chat_id is None:
        return unit.key, None
    contact = Contact(phone=phone, phone_verified=True, created_at=now, updated_at=now)
    session.add(contact)
    await session.flush()
    session.add(
        ChannelIdentity(contact_id=contact.id, channel=channel, external_id=chat_id, created_at=now)
    )
    conversation = Conversation(
        contact_id=contact.id,
        channel=channel,
        chat_id=chat_id,
        language=language,
        slots={"language": language},
        state={},
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    await session.flush()
    session.add(
        ContactResident(
            contact_id=contact.id, resident_id=resident.id, verified=True, linked_at=now
        )
    )
    await session.flush()
    return unit.key, conversation.id


async def fee(
    session: AsyncSession,
    unit_key: str,
    period: str,
    item: str,
    amount: str,
    due: date,
    *,
    now: datetime,
    paid: str = "0",
) -> FeeItem:
    """One charge on the ledger."""
    row = FeeItem(
        unit_key=unit_key,
        unit_display=unit_key,
        period=period,
        item=item,
        amount=Decimal(amount),
        due_date=due,
        paid_amount=Decimal(paid),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row
