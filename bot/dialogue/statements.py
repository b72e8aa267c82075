"""The prebuilt SQL of a turn, for SQLite and PostgreSQL.

A turn is the hot path: each statement here is built once at import, not per turn, and the
PostgreSQL ones fold several writes into one round trip (data-modifying CTEs). The writers that
use them are in bot/dialogue/store.py; they are kept apart because they are long and only read.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sqlalchemy import BigInteger, Table, and_, bindparam, insert, select, text, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import CTE, Insert, Select

from bot.store.models import (
    ChannelIdentity,
    Contact,
    Conversation,
    ConversationEvent,
    InboundReceipt,
    Message,
)

# The hot path of a turn writes its rows with prebuilt Core statements (no ORM unit of work,
# no statement construction per turn); the ORM objects of the turn are kept in step by hand.
_MESSAGES = cast(Table, Message.__table__)
INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)
_RECEIPTS = cast(Table, InboundReceipt.__table__)
INSERT_RECEIPT = insert(_RECEIPTS)
# PostgreSQL: the inbound message and its receipt in one round trip (a data-modifying CTE).
# A redelivery still fails on the receipt's unique key, and the message insert with it.
_INBOUND_CTE = (
    insert(_MESSAGES)
    .values({c.key: bindparam(c.key) for c in _MESSAGES.c if c.key != "id"})
    .returning(_MESSAGES.c.id)
    .cte("inbound")
)


_SelectT = TypeVar("_SelectT", bound="Select[*tuple[Any, ...]]")


def _receipt_insert(inbound: CTE) -> Insert:
    """The receipt of an inbound message inserted by the ``inbound`` CTE (same statement)."""
    return (
        insert(_RECEIPTS)
        .from_select(
            ["channel", "delivery_id", "message_id", "created_at"],
            select(
                bindparam("r_channel", type_=_RECEIPTS.c.channel.type),
                bindparam("r_delivery_id", type_=_RECEIPTS.c.delivery_id.type),
                inbound.c.id,
                bindparam("r_created_at", type_=_RECEIPTS.c.created_at.type),
            ),
        )
        .returning(_RECEIPTS.c.message_id)
    )


INSERT_INBOUND_WITH_RECEIPT = _receipt_insert(_INBOUND_CTE)
INSERT_EVENTS = insert(cast(Table, ConversationEvent.__table__))
SET_INTENT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_message_id"))
    .values(intent=bindparam("b_intent"), confidence=bindparam("b_confidence"))
)
UPDATE_ROW = {
    model: update(table).where(table.c.id == bindparam("b_id"))
    for model, table in (
        (Conversation, cast(Table, Conversation.__table__)),
        (Contact, cast(Table, Contact.__table__)),
    )
}
# PostgreSQL: a turn's events (as one JSON array, kept in order) ride along with its reply.
_EVENTS_FROM_JSON = text(
    "INSERT INTO conversation_events (conversation_id, event, data, created_at) "
    "SELECT :e_conversation_id, e.value ->> 'event', e.value -> 'data', :e_created_at "
    "FROM jsonb_array_elements(:e_events) WITH ORDINALITY AS e(value, n) ORDER BY e.n"
).bindparams(
    bindparam("e_conversation_id", type_=BigInteger()),
    bindparam("e_events", type_=JSONB()),
    bindparam("e_created_at", type_=ConversationEvent.__table__.c.created_at.type),
)
INSERT_MESSAGE_AND_EVENTS = INSERT_MESSAGE.add_cte(_EVENTS_FROM_JSON.columns().cte("events"))
# PostgreSQL: the inbound message's intent rides along with the conversation's update.
UPDATE_CONVERSATION_AND_INTENT = UPDATE_ROW[Conversation].add_cte(SET_INTENT.cte("intent"))
# PostgreSQL, the usual turn (one reply, only the columns every turn writes changed): the
# conversation, the inbound message's intent, the events and the reply in one statement.
_CONVERSATIONS = cast(Table, Conversation.__table__)
TURN_COLUMNS = ("slots", "state", "language", "updated_at", "version")
# Every parameter is prefixed: column-named keys would be added to the CTEs' SET clauses.
WRITE_TURN = (
    insert(_MESSAGES)
    .values({c.key: bindparam(f"m_{c.key}", type_=c.type) for c in _MESSAGES.c if c.key != "id"})
    .returning(_MESSAGES.c.id)
    .add_cte(_EVENTS_FROM_JSON.columns().cte("events"))
    .add_cte(
        update(_CONVERSATIONS)
        .where(_CONVERSATIONS.c.id == bindparam("b_id"))
        .values({c: bindparam(f"c_{c}", type_=_CONVERSATIONS.c[c].type) for c in TURN_COLUMNS})
        .cte("conversation")
    )
    .add_cte(SET_INTENT.cte("intent"))
)


def _known_chat(stmt: _SelectT) -> _SelectT:
    """A select from channel identities, narrowed to the user (``user_id``) and joined to the
    conversation of the chat (``channel``, ``chat_id``)."""
    return stmt.join(
        Conversation,
        and_(
            Conversation.channel == bindparam("channel"),
            Conversation.chat_id == bindparam("chat_id"),
        ),
    ).where(
        ChannelIdentity.channel == bindparam("channel"),
        ChannelIdentity.external_id == bindparam("user_id"),
    )


# Contact and conversation of a known user in a known chat, in one statement.
LOAD = _known_chat(
    select(Contact, Conversation)
    .select_from(ChannelIdentity)
    .join(Contact, Contact.id == ChannelIdentity.contact_id)
)
LOAD_LOCKED = LOAD.with_for_update(of=Conversation)
# PostgreSQL, a known user with a delivery id (every Telegram update): load and lock, store the
# inbound message and its receipt, in one statement. The insert reads the same join as the
# load (one snapshot), so they find the same conversation or, for a newcomer, both nothing.
# Parameters are prefixed (i_) so that none is taken for a column of the inserted tables.
_INBOUND_KNOWN = (
    insert(_MESSAGES)
    .from_select(
        [c.key for c in _MESSAGES.c if c.key != "id"],
        _known_chat(
            select(
                Conversation.id,
                *(
                    bindparam(f"i_{c.key}", type_=c.type)
                    for c in _MESSAGES.c
                    if c.key not in ("id", "conversation_id")
                ),
            ).select_from(ChannelIdentity)
        ),
    )
    .returning(_MESSAGES.c.id)
    .cte("inbound")
)
_RECEIPT_KNOWN = _receipt_insert(_INBOUND_KNOWN).cte("receipt")
LOAD_AND_STORE = (
    _known_chat(
        select(Contact, Conversation, _RECEIPT_KNOWN.c.message_id)
        .select_from(ChannelIdentity)
        .join(Contact, Contact.id == ChannelIdentity.contact_id)
    )
    .join(_RECEIPT_KNOWN, true())
    .with_for_update(of=Conversation)
)


async def find_conversation(
    session: AsyncSession, channel: str, chat_id: str, *, lock: bool = False, is_sqlite: bool
) -> Conversation | None:
    """The conversation of a chat, if there is one (locked for the transaction on request;
    SQLite has no row locks, its write transaction is the lock)."""
    stmt = select(Conversation).where(
        Conversation.channel == channel, Conversation.chat_id == chat_id
    )
    if lock and not is_sqlite:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()
