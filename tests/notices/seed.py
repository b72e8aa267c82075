"""Residents with linked Telegram chats, written straight into a database (tests, bench)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, insert, select

from bot.notices.deliveries import OptOut
from bot.notices.models import TOPIC
from bot.records.models import ContactResident, Resident
from bot.store.db import sync_url
from bot.store.models import Contact, Conversation

CHAT_BASE = 700_000


def seed_residents(
    url: str, count: int, *, first_chat: int = CHAT_BASE, linked: bool = True, blocks: int = 10
) -> list[int]:
    """``count`` residents of blocks 1..``blocks`` (unit i: block i % blocks + 1, floor
    i // 100 + 1), owners and tenants alternating, each with a linked Telegram chat
    ``first_chat + i`` unless ``linked`` is false. Returns the chat ids."""
    now = datetime.now(UTC)
    engine = create_engine(sync_url(url))
    chats = [first_chat + i for i in range(count)]
    try:
        with engine.begin() as conn:
            residents = []
            for i, chat in enumerate(chats):
                block, floor, room = str(i % blocks + 1), str(i // 100 + 1), f"R{chat}"
                residents.append(
                    {
                        "unit_key": f"{block}|{floor}|{room}",
                        "unit_display": f"{block}座{floor}樓{room}室",
                        "unit_parts": {"block": block, "floor": floor, "room": room},
                        "name": f"Resident {chat}",
                        "phone": f"+8529{chat:07d}",
                        "role": "owner" if i % 2 == 0 else "tenant",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            conn.execute(insert(Resident), residents)
            if not linked:
                return chats
            conn.execute(
                insert(Contact),
                [
                    {"phone": r["phone"], "phone_verified": True, "language": None,
                     "unreachable": False, "created_at": now, "updated_at": now}
                    for r in residents
                ],
            )  # fmt: skip
            contact_of = dict(
                conn.execute(
                    select(Contact.phone, Contact.id).where(
                        Contact.phone.in_([r["phone"] for r in residents])
                    )
                ).all()
            )
            resident_of = dict(
                conn.execute(
                    select(Resident.phone, Resident.id).where(
                        Resident.phone.in_([r["phone"] for r in residents])
                    )
                ).all()
            )
            conn.execute(
                insert(Conversation),
                [
                    {"contact_id": contact_of[r["phone"]], "channel": "telegram",
                     "chat_id": str(chat), "language": ("zh-Hant", "en", "zh-Hans")[i % 3],
                     "slots": {}, "state": {}, "owner": "bot", "version": 0,
                     "created_at": now, "updated_at": now}
                    for i, (r, chat) in enumerate(zip(residents, chats, strict=True))
                ],
            )  # fmt: skip
            conn.execute(
                insert(ContactResident),
                [
                    {"contact_id": contact_of[r["phone"]], "resident_id": resident_of[r["phone"]],
                     "verified": True, "linked_at": now}
                    for r in residents
                ],
            )  # fmt: skip
    finally:
        engine.dispose()
    return chats


def opt_out_chat(url: str, chat: int) -> None:
    """The contact of ``chat`` opts out of ordinary notices."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            contact = conn.execute(
                select(Conversation.contact_id).where(Conversation.chat_id == str(chat))
            ).scalar_one()
            conn.execute(
                insert(OptOut).values(contact_id=contact, topic=TOPIC, created_at=datetime.now(UTC))
            )
    finally:
        engine.dispose()
