"""The outbox side of the engine: every reply is stored before it is sent, and the channel
says when it was. Messages written outside a user's turn (surveys, agents' replies) go through
the same table, so a restart or a redelivery never loses one and never sends one twice.

Whoever sends a stored row (a turn's replies, the outbox sweep, an agent's reply, a survey,
in any process) first holds a claim on it: a conditional UPDATE that sets ``claimed_by`` to a
token of its own and ``claimed_until`` to a lease, and succeeds only while the row is unsent
and unclaimed (or its claim expired: the process holding it died). Exactly one sender wins a
row; the others leave it alone. A turn claims its replies in the INSERT that stores them, so
the usual turn pays no extra round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.claims import SEND_LEASE, claim_token
from bot.dialogue.responses import Responses
from bot.dialogue.statements import find_conversation
from bot.messages import Attachment, OutboundMessage
from bot.store.batching import GroupCommit
from bot.store.db import Database
from bot.store.models import Contact, Conversation, Message

log = logging.getLogger(__name__)

_MESSAGES = cast(Table, Message.__table__)
# Prebuilt: confirming a delivery is on every turn's path.
_MARK_SENT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values(sent_at=bindparam("b_sent_at"), channel_message_id=bindparam("b_channel_id"))
)
# An older outbound row of the same conversation that holds the id the channel just gave.
_STALE_HOLDER = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.conversation_id
        == select(_MESSAGES.c.conversation_id)
        .where(_MESSAGES.c.id == bindparam("b_id"))
        .scalar_subquery(),
        _MESSAGES.c.direction == "out",
        _MESSAGES.c.channel_message_id == bindparam("b_channel_id"),
        _MESSAGES.c.id != bindparam("b_id"),
    )
    .values(channel_message_id=None)
)


def _claimable(now: Any) -> Any:
    return or_(_MESSAGES.c.claimed_until.is_(None), _MESSAGES.c.claimed_until <= now)


class Outbox:
    """Storing and confirming outbound messages, for the engine and for whoever else writes
    to a chat (surveys, agents). One per process, composed into
    :class:`bot.dialogue.engine.Engine`, which hands its methods on to the channels."""

    def __init__(
        self, *, db: Database, clock: Clock, settings: Settings, responses: Responses
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.responses = responses
        # Delivery confirmations that arrive together share one transaction.
        self._sent_batcher: GroupCommit[tuple[int, str | None]] = GroupCommit(self.mark_sent_many)

    async def mark_sent(self, outbound_id: int, channel_message_id: str | None = None) -> None:
        """Record that the channel delivered an outbound message (so it is never resent).

        Returns once that is committed; confirmations that arrive together share a transaction.
        """
        await self._sent_batcher.add((outbound_id, channel_message_id))

    async def mark_sent_many(self, sent: Sequence[tuple[int, str | None]]) -> None:
        """:meth:`mark_sent` for several messages in one transaction."""
        if not sent:
            return
        now = self.clock.now()
        params = [
            {"b_id": outbound_id, "b_sent_at": now, "b_channel_id": channel_message_id}
            for outbound_id, channel_message_id in sent
        ]
        try:
            if len(params) == 1:
                async with self.db.statement() as connection:
                    await connection.execute(_MARK_SENT, params[0])
                return
            async with self.db.session() as session:
                await (await session.connection()).execute(_MARK_SENT, params)
        except IntegrityError:
            # A channel message id an older row of the conversation already holds: Telegram
            # numbers per bot and chat, and a chat moved to a new bot starts again from 1.
            # The message was delivered all the same: record it, or the sweep sends it again.
            for one in params:
                await self._mark_sent_taking_id(one)

    async def _mark_sent_taking_id(self, params: dict[str, Any]) -> None:
        """Mark one row sent; an older row holding the same channel id gives it up (its message
        was sent by a bot the chat no longer has, so nothing can refer to it any more)."""
        async with self.db.session() as session:
            connection = await session.connection()
            if params["b_channel_id"] is not None:
                released = await connection.execute(_STALE_HOLDER, params)
                if getattr(released, "rowcount", 0):
                    log.warning(
                        "channel message id %s was on an older message of the same chat: "
                        "moved to outbound message %s",
                        params["b_channel_id"],
                        params["b_id"],
                    )
            await connection.execute(_MARK_SENT, params)

    async def claim(self, ids: Sequence[int]) -> tuple[str, set[int]]:
        """Claim outbound rows for sending: returns a new token and the ids it now holds.

        A row is taken only while it is unsent and nobody else holds it (or their lease
        expired); under concurrency exactly one claimant gets it.
        """
        token = claim_token()
        if not ids:
            return token, set()
        now = self.clock.now()
        stmt = (
            update(_MESSAGES)
            .where(
                _MESSAGES.c.id.in_(list(ids)),
                _MESSAGES.c.direction == "out",
                _MESSAGES.c.sent_at.is_(None),
                _claimable(now),
            )
            .values(claimed_by=token, claimed_until=now + SEND_LEASE)
            .returning(_MESSAGES.c.id)
        )
        async with self.db.statement() as connection:
            got = set((await connection.execute(stmt)).scalars())
        return token, got

    async def renew(self, token: str, ids: Sequence[int]) -> set[int]:
        """Extend the lease of rows ``token`` still holds (a slow sender); returns them."""
        if not ids:
            return set()
        now = self.clock.now()
        stmt = (
            update(_MESSAGES)
            .where(
                _MESSAGES.c.id.in_(list(ids)),
                _MESSAGES.c.claimed_by == token,
                _MESSAGES.c.sent_at.is_(None),
            )
            .values(claimed_until=now + SEND_LEASE)
            .returning(_MESSAGES.c.id)
        )
        async with self.db.statement() as connection:
            return set((await connection.execute(stmt)).scalars())

    async def release(self, token: str, ids: Sequence[int]) -> None:
        """Give back rows ``token`` holds and did not send (the channel failed): they are
        sendable again at once, by whoever claims them next."""
        if not ids:
            return
        stmt = (
            update(_MESSAGES)
            .where(
                _MESSAGES.c.id.in_(list(ids)),
                _MESSAGES.c.claimed_by == token,
                _MESSAGES.c.sent_at.is_(None),
            )
            .values(claimed_by=None, claimed_until=None)
        )
        async with self.db.statement() as connection:
            await connection.execute(stmt)

    async def unsent(
        self, channel: str, *, chat_id: str | None = None, limit: int = 500
    ) -> list[OutboundMessage]:
        """Outbox rows of ``channel`` (or of one chat) not delivered yet and not being sent
        by anyone (no live claim), oldest first."""
        conditions = [
            Conversation.channel == channel,
            Message.direction == "out",
            Message.sent_at.is_(None),
            _claimable(self.clock.now()),
        ]
        if chat_id is not None:
            conditions.append(Conversation.chat_id == chat_id)
        async with self.db.session() as session:
            rows = await session.execute(
                select(Message, Conversation.chat_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(*conditions)
                .order_by(Message.id)
                .limit(limit)
            )
            return [
                OutboundMessage.from_dict(m.data, id=m.id, chat_id=chat_id) for m, chat_id in rows
            ]

    async def mark_unreachable(self, channel: str, chat_id: str) -> None:
        """The user blocked the bot (or similar): stop trying to reach them."""
        async with self.db.session() as session:
            conversation = await find_conversation(
                session, channel, chat_id, is_sqlite=self.db.is_sqlite
            )
            if conversation is None:
                return
            await session.execute(
                update(Contact)
                .where(Contact.id == conversation.contact_id)
                .values(unreachable=True)
            )
            await session.execute(
                update(Message)
                .where(Message.conversation_id == conversation.id, Message.sent_at.is_(None))
                .values(sent_at=self.clock.now(), data=Message.data)
            )

    async def notify(
        self,
        conversation_id: int,
        response: str,
        values: dict[str, Any] | None = None,
        *,
        session: AsyncSession | None = None,
        sender: str = "bot",
    ) -> list[OutboundMessage]:
        """Store a proactive message (survey, reminder, agent reply) in the outbox.

        Pass ``session`` to write it in the caller's transaction (e.g. with the follow-up that
        caused it). The caller delivers the returned messages and calls :meth:`mark_sent`.
        """
        if session is not None:
            return await self._notify(session, conversation_id, response, values or {}, sender)
        async with self.db.write() as own:
            return await self._notify(own, conversation_id, response, values or {}, sender)

    async def send_text(
        self,
        conversation_id: int,
        text: str,
        *,
        sender: str,
        images: Sequence[Attachment] = (),
        session: AsyncSession | None = None,
    ) -> list[OutboundMessage]:
        """Store a message a person wrote (an agent's reply) in the outbox of a conversation."""

        async def _store(own: AsyncSession) -> list[OutboundMessage]:
            conversation = await own.get_one(Conversation, conversation_id)
            message = OutboundMessage(text=text, images=tuple(images))
            row = Message(
                conversation_id=conversation.id,
                direction="out",
                text=text,
                data=message.to_dict(),
                sender=sender,
                created_at=self.clock.now(),
            )
            own.add(row)
            await own.flush()
            return [OutboundMessage.from_dict(row.data, id=row.id, chat_id=conversation.chat_id)]

        if session is not None:
            return await _store(session)
        async with self.db.write() as own:
            return await _store(own)

    async def _notify(
        self,
        session: AsyncSession,
        conversation_id: int,
        response: str,
        values: dict[str, Any],
        sender: str,
    ) -> list[OutboundMessage]:
        conversation = await session.get_one(Conversation, conversation_id)
        language = conversation.language or self.settings.default_language
        slots = {
            k: v for k, v in (conversation.slots or {}).items() if isinstance(v, str | int | float)
        }
        message = self.responses.render(response, language, slots | values)
        if message is None:
            return []
        now = self.clock.now()
        row = Message(
            conversation_id=conversation.id,
            direction="out",
            text=message.text,
            data=message.to_dict(),
            sender=sender,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        return [OutboundMessage.from_dict(row.data, id=row.id, chat_id=conversation.chat_id)]
