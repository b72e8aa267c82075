"""The turn store: reading a turn's conversation and writing what the turn did.

SQLite and PostgreSQL get different writers for the same rows. On PostgreSQL the usual turn
is two statements: one loads and locks the conversation and stores the inbound message with its
delivery receipt, one writes the conversation, the inbound message's intent, the events and the
reply (bot/dialogue/statements.py). SQLite has no data-modifying CTEs and gets one Core
statement per table. The ORM objects of the turn are kept in step by hand (no unit of work on
the hot path), so observers and later reads see what was written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.dialogue.claims import SEND_LEASE, ClaimingOutbox, claim_token
from bot.dialogue.statements import (
    INSERT_EVENTS,
    INSERT_INBOUND_WITH_RECEIPT,
    INSERT_MESSAGE,
    INSERT_MESSAGE_AND_EVENTS,
    INSERT_MESSAGES,
    INSERT_RECEIPT,
    LOAD,
    LOAD_AND_STORE,
    LOAD_LOCKED,
    SET_INTENT,
    TURN_COLUMNS,
    UPDATE_CONVERSATION_AND_INTENT,
    UPDATE_ROW,
    WRITE_TURN,
    find_conversation,
)
from bot.dialogue.text import inbound_data, jsonable, storable
from bot.dialogue.turn import Turn
from bot.messages import InboundMessage, OutboundMessage
from bot.store.db import Database
from bot.store.models import (
    ChannelIdentity,
    Contact,
    Conversation,
    InboundReceipt,
    Message,
    Owner,
)


class TurnStore:
    """The rows of a turn, in the engine's write transaction (one per turn)."""

    def __init__(self, db: Database, outbox: ClaimingOutbox) -> None:
        self.db = db
        # A replayed delivery claims the replies it sends, like any other sender.
        self.outbox = outbox

    async def load_and_store(
        self, session: AsyncSession, message: InboundMessage, now: datetime
    ) -> tuple[Contact, Conversation, Message] | None:
        """PostgreSQL, a known user in a known chat: :meth:`load` and :meth:`store_inbound`
        in one statement. None when it does not apply (nothing was written then)."""
        if self.db.is_sqlite or not message.delivery_id:
            return None
        values = _inbound_values(message, now)
        params = {
            "channel": message.channel,
            "chat_id": message.chat_id,
            "user_id": message.user_id,
            "r_channel": message.channel,
            "r_delivery_id": message.delivery_id,
            "r_created_at": now,
        } | {f"i_{key}": value for key, value in values.items()}
        row = (await session.execute(LOAD_AND_STORE, params)).one_or_none()
        if row is None:
            return None
        contact, conversation, message_id = row
        # A detached copy for observers; the row itself was written above.
        return (
            contact,
            conversation,
            Message(id=message_id, conversation_id=conversation.id, **values),
        )

    async def load(
        self, session: AsyncSession, message: InboundMessage, now: datetime
    ) -> tuple[Contact, Conversation]:
        """The contact and the conversation of the message (locked), created for a newcomer."""
        known = (
            await session.execute(
                LOAD if self.db.is_sqlite else LOAD_LOCKED,
                {
                    "channel": message.channel,
                    "chat_id": message.chat_id,
                    "user_id": message.user_id,
                },
            )
        ).one_or_none()
        if known is not None:
            return known[0], known[1]
        found = (
            await session.execute(
                select(ChannelIdentity, Contact)
                .join(Contact, Contact.id == ChannelIdentity.contact_id)
                .where(
                    ChannelIdentity.channel == message.channel,
                    ChannelIdentity.external_id == message.user_id,
                )
            )
        ).one_or_none()
        if found is None:
            contact = Contact(display_name=message.user_name, created_at=now, updated_at=now)
            session.add(contact)
            await session.flush()
            identity = ChannelIdentity(
                contact_id=contact.id,
                channel=message.channel,
                external_id=message.user_id,
                username=message.user_name,
                created_at=now,
            )
            session.add(identity)
            await session.flush()
        else:
            contact = found[1]
        conversation = await find_conversation(
            session, message.channel, message.chat_id, lock=True, is_sqlite=self.db.is_sqlite
        )
        if conversation is None:
            conversation = Conversation(
                contact_id=contact.id,
                channel=message.channel,
                chat_id=message.chat_id,
                slots={},
                state={},
                owner=Owner.BOT,
                version=0,
                created_at=now,
                updated_at=now,
            )
            session.add(conversation)
            await session.flush()
        return contact, conversation

    async def store_inbound(
        self,
        session: AsyncSession,
        message: InboundMessage,
        conversation: Conversation,
        now: datetime,
        *,
        failed: bool = False,
    ) -> Message:
        """Keep what the user sent and the delivery it came in (a redelivery fails here, on
        the receipt's unique key, before anything else happens)."""
        values = {"conversation_id": conversation.id} | _inbound_values(message, now, failed)
        connection = await session.connection()
        receipt = {
            "channel": message.channel,
            "delivery_id": message.delivery_id,
            "created_at": now,
        }
        if message.delivery_id and not self.db.is_sqlite:
            params = values | {f"r_{k}": v for k, v in receipt.items()}
            result = await connection.execute(INSERT_INBOUND_WITH_RECEIPT, params)
            message_id = result.scalar_one()
        else:
            message_id = (await connection.execute(INSERT_MESSAGE, values)).scalar_one()
            if message.delivery_id:
                await connection.execute(INSERT_RECEIPT, receipt | {"message_id": message_id})
        # A detached copy for observers; the row itself was written above.
        return Message(id=message_id, **values)

    async def save(self, turn: Turn, *, intent: dict[str, Any]) -> list[OutboundMessage]:
        """Write the conversation, the contact, the events and the replies of ``turn``; return
        the replies as stored (with ids), claimed for the caller to deliver. ``intent``: the
        inbound message's intent update, written with the conversation on PostgreSQL."""
        conversation = turn.conversation
        session = turn.session
        token = claim_token()
        turn_values = {
            "slots": turn.slots,
            "state": turn.state,
            "language": turn.language,
            "updated_at": turn.now,
            "version": (conversation.version or 0) + 1,
        }
        rows: list[dict[str, Any]] = [
            {
                "conversation_id": conversation.id,
                "direction": "out",
                "channel_message_id": None,
                "reply_to_id": turn.inbound.id if turn.inbound else None,
                "text": reply.text,
                "data": reply.to_dict(),
                "intent": None,
                "confidence": None,
                "sender": "bot",
                "created_at": turn.now,
                "sent_at": None,
                # Claimed for the channel that will deliver them, in the same statement.
                "claimed_by": token,
                "claimed_until": turn.now + SEND_LEASE,
            }
            for reply in turn.replies
        ]
        one_statement = (
            not self.db.is_sqlite
            and len(rows) == 1
            and bool(turn.events)
            and bool(intent)
            and set(_changes(conversation, turn_values)) <= set(TURN_COLUMNS)
        )
        if not one_statement:
            await self.write_row(session, conversation, turn_values, intent=intent)
        await self.write_row(
            session,
            turn.contact,
            {"language": turn.language, "updated_at": turn.now}
            if turn.contact.language != turn.language
            else {},
        )
        connection = await session.connection()
        ids: list[int] = []
        if turn.events and len(rows) == 1 and not self.db.is_sqlite:
            # The usual turn on PostgreSQL: its events and its one reply in one statement,
            # with the conversation and the intent too when nothing unusual changed.
            events = {
                "e_conversation_id": conversation.id,
                "e_events": [
                    {"event": str(event.get("event")), "data": jsonable(event)}
                    for event in turn.events
                ],
                "e_created_at": turn.now,
            }
            if one_statement:
                params = {f"m_{key}": value for key, value in rows[0].items()}
                params |= {f"c_{key}": value for key, value in turn_values.items()}
                params |= events | intent | {"b_id": conversation.id}
                result = await connection.execute(WRITE_TURN, params)
                for key, value in turn_values.items():
                    set_committed_value(conversation, key, value)
            else:
                result = await connection.execute(INSERT_MESSAGE_AND_EVENTS, rows[0] | events)
            ids = [result.scalar_one()]
            rows_left: list[dict[str, Any]] = []
        else:
            rows_left = rows
            if turn.events:
                # One executemany for the whole turn's events (no ids needed back).
                await connection.execute(
                    INSERT_EVENTS,
                    [
                        {
                            "conversation_id": conversation.id,
                            "event": str(event.get("event")),
                            "data": jsonable(event),
                            "created_at": turn.now,
                        }
                        for event in turn.events
                    ],
                )
        if len(rows_left) == 1:
            ids = [(await connection.execute(INSERT_MESSAGE, rows_left[0])).scalar_one()]
        elif rows_left:
            ids = list((await connection.execute(INSERT_MESSAGES, rows_left)).scalars())
        return [
            OutboundMessage.from_dict(
                row["data"], id=row_id, chat_id=conversation.chat_id, meta={"claim": token}
            )
            for row, row_id in zip(rows, ids, strict=True)
        ]

    @staticmethod
    async def write_row(
        session: AsyncSession,
        obj: Any,
        values: dict[str, Any],
        *,
        intent: dict[str, Any] | None = None,
    ) -> None:
        """Write ``values`` and the object's other changed columns with one Core UPDATE,
        skipping what did not change, and leave the ORM object clean as a flush would.
        ``intent``: parameters of the inbound message's intent update, done in the same
        statement (a conversation on PostgreSQL)."""
        changes = _changes(obj, values)
        connection = await session.connection()
        if changes and intent:
            await connection.execute(
                UPDATE_CONVERSATION_AND_INTENT, {"b_id": obj.id, **changes, **intent}
            )
        elif changes:
            await connection.execute(UPDATE_ROW[type(obj)], {"b_id": obj.id, **changes})
        elif intent:
            await connection.execute(SET_INTENT, intent)
        for key, value in (values | changes).items():
            set_committed_value(obj, key, value)

    async def store_after_failure(
        self,
        message: InboundMessage,
        now: datetime,
        apology: Callable[[str | None], OutboundMessage],
    ) -> list[OutboundMessage]:
        """A bug must not lose what the user sent: store it and apologise (``apology`` is
        handed the conversation's language, which may be unknown yet)."""
        async with self.db.write() as session:
            _contact, conversation = await self.load(session, message, now)
            inbound = await self.store_inbound(session, message, conversation, now, failed=True)
            reply = apology(conversation.language)
            token = claim_token()
            row = Message(
                conversation_id=conversation.id,
                direction="out",
                reply_to_id=inbound.id,
                text=reply.text,
                data=reply.to_dict(),
                sender="bot",
                created_at=now,
                claimed_by=token,
                claimed_until=now + SEND_LEASE,
            )
            session.add(row)
            await session.flush()
            return [
                OutboundMessage.from_dict(
                    row.data, id=row.id, chat_id=conversation.chat_id, meta={"claim": token}
                )
            ]

    async def replay(self, message: InboundMessage) -> list[OutboundMessage] | None:
        """A redelivered message: the replies of its first delivery not sent yet (and not
        being sent by anyone); ``None`` if the delivery is unknown."""
        async with self.db.session() as session:
            receipt = (
                await session.execute(
                    select(InboundReceipt).where(
                        InboundReceipt.channel == message.channel,
                        InboundReceipt.delivery_id == message.delivery_id,
                    )
                )
            ).scalar_one_or_none()
            if receipt is None:
                return None
            rows = await session.execute(
                select(Message)
                .where(
                    Message.reply_to_id == receipt.message_id,
                    Message.direction == "out",
                    Message.sent_at.is_(None),
                )
                .order_by(Message.id)
            )
            unsent = list(rows.scalars())
        # Only what nobody else is sending (the first delivery may still be at it).
        token, mine = await self.outbox.claim([m.id for m in unsent])
        return [
            OutboundMessage.from_dict(
                m.data, id=m.id, chat_id=message.chat_id, meta={"claim": token}
            )
            for m in unsent
            if m.id in mine
        ]


def _changes(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The columns to write for an ORM object: ``values`` that differ from what is stored,
    plus attributes changed on the object itself (e.g. by an action)."""
    state = inspect(obj)
    committed = state.committed_state
    columns = state.mapper.column_attrs
    changes = {key: getattr(obj, key) for key in committed if key in columns}
    loaded = state.dict
    for key, value in values.items():
        if value != committed.get(key, loaded.get(key)):
            changes[key] = value
        else:
            changes.pop(key, None)
    return changes


def _inbound_values(message: InboundMessage, now: datetime, failed: bool = False) -> dict[str, Any]:
    """The columns of an inbound message's row, but its conversation."""
    return {
        "direction": "in",
        "channel_message_id": message.message_id,
        "reply_to_id": None,
        "text": storable(message.text),
        "data": inbound_data(message) | ({"failed": True} if failed else {}),
        "intent": None,
        "confidence": None,
        "sender": "user",
        "created_at": now,
        "sent_at": now,
        "claimed_by": None,
        "claimed_until": None,
    }
