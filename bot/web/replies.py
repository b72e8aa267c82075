"""A staff member's reply from the console, delivered through the customer's own channel.

The reply is stored as an outbound message of the ticket's conversation, unsent: the channel's
outbox sweep (``kefu run``) claims and sends it, exactly as it sends an agent's reply from the
Telegram group, so a restart or a second process never loses it and never sends it twice. The
console itself needs no Telegram connection.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import OutboundMessage
from bot.store.models import Conversation, Message, Ticket
from bot.tickets.service import add_event

REPLY_LIMIT = 4000


class NoConversation(Exception):
    """The ticket was opened without a chat (by phone, at the counter): nobody to reply to."""


async def reply_to_customer(
    session: AsyncSession, ticket: Ticket, text: str, *, actor: str, now: datetime
) -> Message:
    """Queue ``text`` for the ticket's customer; the first reply counts as the first response."""
    if ticket.conversation_id is None:
        raise NoConversation(ticket.number)
    conversation = await session.get_one(Conversation, ticket.conversation_id)
    row = Message(
        conversation_id=conversation.id,
        direction="out",
        text=text,
        data=OutboundMessage(text=text).to_dict(),
        sender=actor,
        created_at=now,
    )
    session.add(row)
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.updated_at = now
    await session.flush()
    await add_event(
        session, ticket, actor=actor, action="replied", now=now, data={"text": text[:500]}
    )
    return row
