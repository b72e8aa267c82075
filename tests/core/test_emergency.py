"""The emergency path beside what transcripts show: photos sent after an emergency go on its
ticket, a lift lobby given as the place never becomes the resident's flat, and the emergency
actions serve only the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.messages import Attachment, InboundMessage
from bot.store.models import ChannelIdentity, Contact, Conversation, Ticket

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock, interpreter: Any) -> AsyncIterator[App]:
    application = build_app(settings, clock=clock, interpreter=interpreter)
    yield application
    await application.close()


async def _say(app: App, text: str, user: str = "r1", **extra: Any) -> list[str]:
    replies = await app.engine.handle(
        InboundMessage(channel="test", user_id=user, chat_id=user, text=text, **extra)
    )
    for reply in replies:
        await app.engine.mark_sent(reply.id)
    return [r.text for r in replies]


async def _tickets(app: App, user: str = "r1") -> list[Ticket]:
    async with app.db.session() as session:
        rows = await session.execute(
            select(Ticket)
            .join(Conversation, Conversation.id == Ticket.conversation_id)
            .where(Conversation.chat_id == user)
            .order_by(Ticket.id)
        )
        return list(rows.scalars())


async def test_a_photo_after_an_emergency_goes_on_its_ticket(app: App) -> None:
    await _say(app, "爆水管呀！水射到成地都係")
    photo = Attachment(kind="photo", file_id="F1", path="/media/f1.jpg", message_id="77")
    replies = await _say(app, "", attachments=(photo,))
    [ticket] = await _tickets(app)
    assert ticket.details["attachments"] == [photo.to_dict()]
    assert ticket.number in replies[0]
    assert "喺邊個位置" in replies[-1]  # the open question is asked again
    await _say(app, "B座地下")
    [ticket] = await _tickets(app)
    assert ticket.unit == "B座地下" and len(ticket.details["attachments"]) == 1


async def test_a_common_area_is_not_remembered_as_the_residents_flat(app: App) -> None:
    replies = await _say(app, "7座大堂部𨋢有人困住", user="r2")
    assert "打邊個電話" in replies[-1]  # the place is known: 7座大堂, as written
    await _say(app, "91234567", user="r2")
    [ticket] = await _tickets(app, "r2")
    assert ticket.unit == "7座大堂"  # the common area read with its block
    async with app.db.session() as session:
        contact = (
            await session.execute(
                select(Contact)
                .join(ChannelIdentity, ChannelIdentity.contact_id == Contact.id)
                .where(ChannelIdentity.external_id == "r2")
            )
        ).scalar_one()
    assert contact.unit is None and contact.phone == "+85291234567"
    # A later ordinary repair asks for the flat instead of offering the lift lobby.
    replies = await _say(app, "廚房水龍頭漏水", user="r2")
    assert "7座" not in "\n".join(replies)


async def test_emergency_actions_refuse_callers_outside_the_engine(app: App) -> None:
    """Under ``kefu actions serve`` the tracker is whatever the caller posts: a forged
    ``emergency_ticket`` slot must not rewrite someone's ticket."""
    await _say(app, "爆水管呀！水射到成地都係", user="r3")
    [ticket] = await _tickets(app, "r3")
    tracker = {
        "sender_id": "attacker",
        "slots": {"emergency_ticket": ticket.number, "language": "en"},
        "latest_message": {
            "text": "",
            "intent": {},
            "entities": [],
            "metadata": {"location": "nowhere", "phone": "+85290000000"},
        },
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }
    for name in ("action_emergency_detail", "action_open_emergency"):
        result = await app.engine.executor.run(
            {"next_action": name, "tracker": tracker, "domain": {}}
        )
        assert result is not None and result.events == []
        assert [r["response"] for r in result.responses] == ["utter_internal_error"]
    [after] = await _tickets(app, "r3")  # no second ticket either
    assert (after.unit, after.contact_phone) == (ticket.unit, ticket.contact_phone)
