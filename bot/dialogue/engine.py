"""The dialogue engine.

One turn: record the delivery and the inbound message, lock the conversation, ask the NLU, pick
the next action (commands, forms, rules, fallback), run rasa_sdk actions through the executor,
apply their events, store every event and every reply, commit. Replies are returned to the
channel, which reports delivery with :meth:`Engine.mark_sent`; a redelivered message replays
what was not sent yet instead of running again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from rasa_sdk.executor import ActionExecutor
from sqlalchemy import (
    BigInteger,
    Table,
    and_,
    bindparam,
    insert,
    inspect,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import CTE, Insert, Select

from bot.actions import runtime
from bot.actions.visits import asks_cost, finer_than_button
from bot.clock import Clock
from bot.config import LANGUAGES, Settings
from bot.dialogue import corrections, memory, switch
from bot.dialogue.choices import ChoiceResolver, press_typed_choice
from bot.dialogue.claims import SEND_LEASE, claim_token
from bot.dialogue.domain import Domain
from bot.dialogue.emergency import EmergencyPolicy
from bot.dialogue.outbox import Outbox
from bot.dialogue.payloads import parse_payload, to_entities
from bot.dialogue.responses import Responses
from bot.dialogue.slots import extract_slots
from bot.dialogue.text import (
    clean_text,
    confident_language,
    copy_json,
    hint_language,
    inbound_data,
    jsonable,
    mostly_entities,
    storable,
    substantial,
)
from bot.dialogue.tworequests import TwoRequests
from bot.messages import InboundMessage, OutboundMessage
from bot.store.batching import GroupCommit
from bot.store.db import Database, StoreUnavailable, is_outage
from bot.store.models import (
    ChannelIdentity,
    Contact,
    Conversation,
    ConversationEvent,
    InboundReceipt,
    Message,
    Owner,
)

log = logging.getLogger(__name__)

# The hot path of a turn writes its rows with prebuilt Core statements (no ORM unit of work,
# no statement construction per turn); the ORM objects of the turn are kept in step by hand.
_MESSAGES = cast(Table, Message.__table__)
_INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)
_RECEIPTS = cast(Table, InboundReceipt.__table__)
_INSERT_RECEIPT = insert(_RECEIPTS)
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


_INSERT_INBOUND_WITH_RECEIPT = _receipt_insert(_INBOUND_CTE)
_INSERT_EVENTS = insert(cast(Table, ConversationEvent.__table__))
_SET_INTENT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_message_id"))
    .values(intent=bindparam("b_intent"), confidence=bindparam("b_confidence"))
)
_UPDATE_ROW = {
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
_INSERT_MESSAGE_AND_EVENTS = _INSERT_MESSAGE.add_cte(_EVENTS_FROM_JSON.columns().cte("events"))
# PostgreSQL: the inbound message's intent rides along with the conversation's update.
_UPDATE_CONVERSATION_AND_INTENT = _UPDATE_ROW[Conversation].add_cte(_SET_INTENT.cte("intent"))
# PostgreSQL, the usual turn (one reply, only the columns every turn writes changed): the
# conversation, the inbound message's intent, the events and the reply in one statement.
_CONVERSATIONS = cast(Table, Conversation.__table__)
_TURN_COLUMNS = ("slots", "state", "language", "updated_at", "version")
# Every parameter is prefixed: column-named keys would be added to the CTEs' SET clauses.
_WRITE_TURN = (
    insert(_MESSAGES)
    .values({c.key: bindparam(f"m_{c.key}", type_=c.type) for c in _MESSAGES.c if c.key != "id"})
    .returning(_MESSAGES.c.id)
    .add_cte(_EVENTS_FROM_JSON.columns().cte("events"))
    .add_cte(
        update(_CONVERSATIONS)
        .where(_CONVERSATIONS.c.id == bindparam("b_id"))
        .values({c: bindparam(f"c_{c}", type_=_CONVERSATIONS.c[c].type) for c in _TURN_COLUMNS})
        .cte("conversation")
    )
    .add_cte(_SET_INTENT.cte("intent"))
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
_LOAD = _known_chat(
    select(Contact, Conversation)
    .select_from(ChannelIdentity)
    .join(Contact, Contact.id == ChannelIdentity.contact_id)
)
_LOAD_LOCKED = _LOAD.with_for_update(of=Conversation)
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
_LOAD_AND_STORE = (
    _known_chat(
        select(Contact, Conversation, _RECEIPT_KNOWN.c.message_id)
        .select_from(ChannelIdentity)
        .join(Contact, Contact.id == ChannelIdentity.contact_id)
    )
    .join(_RECEIPT_KNOWN, true())
    .with_for_update(of=Conversation)
)

# Intents the engine itself understands (commands and buttons), besides the NLU's.
ENGINE_INTENTS = {
    "start",
    "help",
    "choose_language",
    "set_language",
    "inform",
    "change",
    "unknown_command",
}
# While a form waits for an answer, these intents interrupt it (answered, then the question is
# asked again) unless the message also fills a slot.
INTERRUPTING = {"inquiry", "my_tickets", "greet", "thanks", "help", "choose_language", "start"}
BUSINESS_INTENTS = ("inquiry", "repair", "complaint", "order", "payment")


class ConversationBusy(Exception):
    """The conversation cannot take a proactive form now (another form, or a person owns it)."""


class Interpreter(Protocol):
    """What the engine needs from the NLU."""

    def parse(self, text: str, *, now: datetime | None = None) -> dict[str, Any]: ...


def detect_language_default(text: str) -> str | None:
    from bot.nlu import detect_language

    return detect_language(text)


@dataclass
class Turn:
    """Everything one turn reads and writes."""

    session: AsyncSession
    conversation: Conversation
    contact: Contact
    inbound: Message | None
    now: datetime
    channel: str
    slots: dict[str, Any]
    state: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    replies: list[OutboundMessage] = field(default_factory=list)
    parse: dict[str, Any] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return str(self.slots.get("language") or "zh-Hant")

    @property
    def active_form(self) -> str | None:
        return self.conversation.active_form

    @property
    def requested_slot(self) -> str | None:
        value = self.slots.get("requested_slot")
        return str(value) if value else None


class Engine(Outbox):
    """The channel-neutral dialogue engine. Create one per process and share it."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        domain: Domain,
        interpreter: Interpreter,
        executor: ActionExecutor,
        clock: Clock,
        detect_language: Callable[[str], str | None] = detect_language_default,
    ) -> None:
        self.settings = settings
        self.db = db
        self.domain = domain
        self.interpreter = interpreter
        self.executor = executor
        self.clock = clock
        self.responses = Responses(domain.responses, settings.default_language)
        self.choices = ChoiceResolver.load(
            settings.dialogues_dir, self.responses, list(domain.responses)
        )
        self.detect_language = detect_language
        self._rules = domain.intent_rules()
        self._entity_rules = domain.entity_rules()
        self._known_intents = set(domain.intents) | ENGINE_INTENTS
        self._action_names = {a.name for a in executor.list_actions()}
        self._domain_dict = domain.as_rasa_dict()
        self._locks: OrderedDict[tuple[str, str], asyncio.Lock] = OrderedDict()
        self._sent_batcher = GroupCommit(self.mark_sent_many)
        self.observers: list[Callable[[Turn], Any]] = []
        self.emergency = EmergencyPolicy(self)
        self.two_requests = TwoRequests(self)

    # ------------------------------------------------------------------ public API

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]:
        """Process one inbound message; return the replies to deliver (already stored)."""
        async with self._chat_lock(message.channel, message.chat_id):
            try:
                return await self._handle_locked(message)
            except StoreUnavailable:
                raise
            except IntegrityError:
                # The delivery (or the channel's message id) is known: this is a redelivery,
                # perhaps racing the first one in another process. Its turn rolled back; send
                # what the first delivery has not sent yet.
                replay = await self._replay(message) if message.delivery_id else None
                if replay is not None:
                    return replay
                raise
            except Exception as exc:
                if is_outage(exc):  # e.g. a serialization failure: the delivery comes back
                    raise
                log.exception("turn failed for %s:%s", message.channel, message.chat_id)
                return await self._store_after_failure(message)

    async def set_owner(
        self,
        conversation_id: int,
        owner: Owner | str,
        *,
        agent_id: int | None = None,
        session: AsyncSession | None = None,
    ) -> Conversation:
        """Hand a conversation to the bot, the queue or an agent (the caller audits it)."""

        async def _set(own: AsyncSession) -> Conversation:
            stmt = select(Conversation).where(Conversation.id == conversation_id)
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update()
            conversation = (await own.execute(stmt)).scalar_one()
            conversation.owner = str(owner)
            conversation.agent_id = agent_id if owner == Owner.AGENT else None
            now = self.clock.now()
            if owner == Owner.QUEUE:
                conversation.queued_at = conversation.queued_at or now
            elif owner == Owner.BOT:
                conversation.queued_at = None
                if conversation.active_form:
                    slots = dict(conversation.slots or {})
                    for slot in self.domain.required_slots(conversation.active_form):
                        slots[slot] = None
                    slots["requested_slot"] = None
                    conversation.slots = slots
                    conversation.active_form = None
            conversation.updated_at = now
            conversation.version = (conversation.version or 0) + 1
            own.add(
                ConversationEvent(
                    conversation_id=conversation.id,
                    event="owner",
                    data={"owner": str(owner), "agent_id": agent_id},
                    created_at=now,
                )
            )
            await own.flush()
            return conversation

        if session is not None:
            return await _set(session)
        async with self.db.write() as own:
            return await _set(own)

    async def start_form(
        self,
        session: AsyncSession,
        conversation_id: int,
        form: str,
        *,
        slots: dict[str, Any],
        response: str,
        values: dict[str, Any] | None = None,
    ) -> list[OutboundMessage]:
        """Open a form on Kefu's own initiative (e.g. the call-back survey) and ask its first
        question, in the caller's transaction. Raises :class:`ConversationBusy` when the user is
        in the middle of something else or a person owns the chat."""
        stmt = select(Conversation).where(Conversation.id == conversation_id)
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        conversation = (await session.execute(stmt)).scalar_one()
        if conversation.owner != Owner.BOT or conversation.active_form not in (None, form):
            raise ConversationBusy(f"conversation {conversation_id} is busy")
        new_slots = dict(conversation.slots or {})
        for slot in self.domain.required_slots(form):
            new_slots[slot] = None
        new_slots.update(slots)
        new_slots["requested_slot"] = next(
            (s for s in self.domain.required_slots(form) if new_slots.get(s) is None), None
        )
        conversation.slots = new_slots
        conversation.active_form = form
        conversation.state = {**(conversation.state or {}), "retries": {}, "choices": response}
        conversation.updated_at = self.clock.now()
        conversation.version = (conversation.version or 0) + 1
        session.add(
            ConversationEvent(
                conversation_id=conversation.id,
                event="active_loop",
                data={"event": "active_loop", "name": form},
                created_at=self.clock.now(),
            )
        )
        return await self._notify(session, conversation_id, response, values or {}, "bot")

    async def resume(self, channel: str, chat_id: str) -> list[OutboundMessage]:
        """What to show a returning user who left in the middle of a form (not stored)."""
        async with self.db.session() as session:
            conversation = await self._find_conversation(session, channel, chat_id)
            if conversation is None or not conversation.active_form:
                return []
            language = conversation.language or self.settings.default_language
            last = await session.execute(
                select(Message)
                .where(Message.conversation_id == conversation.id, Message.direction == "out")
                .order_by(Message.id.desc())
                .limit(1)
            )
            previous = last.scalar_one_or_none()
        out = [OutboundMessage(text=self.responses.text("utter_resume", language))]
        if previous is not None:
            out.append(OutboundMessage.from_dict(previous.data))
        return out

    # ------------------------------------------------------------------ turn

    @asynccontextmanager
    async def _chat_lock(self, channel: str, chat_id: str) -> AsyncIterator[None]:
        # Keeps one chat's messages in order inside this process; the database row lock does
        # the same across processes.
        key = (channel, chat_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
            while len(self._locks) > 10_000:
                old_key, old = next(iter(self._locks.items()))
                if old.locked():
                    break
                del self._locks[old_key]
        async with lock:
            yield

    async def _replay(self, message: InboundMessage) -> list[OutboundMessage] | None:
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
        token, mine = await self.claim([m.id for m in unsent])
        return [
            OutboundMessage.from_dict(
                m.data, id=m.id, chat_id=message.chat_id, meta={"claim": token}
            )
            for m in unsent
            if m.id in mine
        ]

    async def _handle_locked(self, message: InboundMessage) -> list[OutboundMessage]:
        now = self.clock.now()
        async with self.db.write() as session:
            loaded = await self._load_and_store(session, message, now)
            if loaded is not None:
                contact, conversation, inbound = loaded
            else:
                contact, conversation = await self._load(session, message, now)
                inbound = await self._store_inbound(session, message, conversation, now)
            text = clean_text(message.text)
            turn = Turn(
                session=session,
                conversation=conversation,
                contact=contact,
                inbound=inbound,
                now=now,
                channel=message.channel,
                # Deep copies: nested values changed in place must show up as changes.
                slots=copy_json(conversation.slots or {}),
                state=copy_json(conversation.state or {}),
            )
            if not turn.slots.get("language"):
                turn.slots["language"] = (
                    contact.language
                    or hint_language(message.language_hint)
                    or self.settings.default_language
                )
            token = runtime.bind_session(session)
            try:
                await self._turn(turn, message, text)
                await self.two_requests.after(turn)
            finally:
                runtime.unbind_session(token)
            intent = turn.parse.get("intent") or {}
            inbound.intent = intent.get("name")
            inbound.confidence = intent.get("confidence")
            also: dict[str, Any] = {}
            if inbound.intent is not None or inbound.confidence is not None:
                also = {
                    "b_message_id": inbound.id,
                    "b_intent": inbound.intent,
                    "b_confidence": inbound.confidence,
                }
                if self.db.is_sqlite:
                    await (await session.connection()).execute(_SET_INTENT, also)
                    also = {}
            return await self._save(turn, intent=also)

    async def _load_and_store(
        self, session: AsyncSession, message: InboundMessage, now: datetime
    ) -> tuple[Contact, Conversation, Message] | None:
        """PostgreSQL, a known user in a known chat: :meth:`_load` and :meth:`_store_inbound`
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
        row = (await session.execute(_LOAD_AND_STORE, params)).one_or_none()
        if row is None:
            return None
        contact, conversation, message_id = row
        # A detached copy for observers; the row itself was written above.
        return (
            contact,
            conversation,
            Message(id=message_id, conversation_id=conversation.id, **values),
        )

    async def _load(
        self, session: AsyncSession, message: InboundMessage, now: datetime
    ) -> tuple[Contact, Conversation]:
        known = (
            await session.execute(
                _LOAD if self.db.is_sqlite else _LOAD_LOCKED,
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
        conversation = await self._find_conversation(
            session, message.channel, message.chat_id, lock=True
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

    async def _store_inbound(
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
            result = await connection.execute(_INSERT_INBOUND_WITH_RECEIPT, params)
            message_id = result.scalar_one()
        else:
            message_id = (await connection.execute(_INSERT_MESSAGE, values)).scalar_one()
            if message.delivery_id:
                await connection.execute(_INSERT_RECEIPT, receipt | {"message_id": message_id})
        # A detached copy for observers; the row itself was written above.
        return Message(id=message_id, **values)

    async def _save(self, turn: Turn, *, intent: dict[str, Any]) -> list[OutboundMessage]:
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
            and set(_changes(conversation, turn_values)) <= set(_TURN_COLUMNS)
        )
        if not one_statement:
            await self._write_row(session, conversation, turn_values, intent=intent)
        await self._write_row(
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
                result = await connection.execute(_WRITE_TURN, params)
                for key, value in turn_values.items():
                    set_committed_value(conversation, key, value)
            else:
                result = await connection.execute(_INSERT_MESSAGE_AND_EVENTS, rows[0] | events)
            ids = [result.scalar_one()]
            rows_left: list[dict[str, Any]] = []
        else:
            rows_left = rows
            if turn.events:
                # One executemany for the whole turn's events (no ids needed back).
                await connection.execute(
                    _INSERT_EVENTS,
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
            ids = [(await connection.execute(_INSERT_MESSAGE, rows_left[0])).scalar_one()]
        elif rows_left:
            ids = list((await connection.execute(_INSERT_MESSAGES, rows_left)).scalars())
        for observer in self.observers:
            result = observer(turn)
            if asyncio.iscoroutine(result):
                await result
        return [
            OutboundMessage.from_dict(
                row["data"], id=row_id, chat_id=conversation.chat_id, meta={"claim": token}
            )
            for row, row_id in zip(rows, ids, strict=True)
        ]

    @staticmethod
    async def _write_row(
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
                _UPDATE_CONVERSATION_AND_INTENT, {"b_id": obj.id, **changes, **intent}
            )
        elif changes:
            await connection.execute(_UPDATE_ROW[type(obj)], {"b_id": obj.id, **changes})
        elif intent:
            await connection.execute(_SET_INTENT, intent)
        for key, value in (values | changes).items():
            set_committed_value(obj, key, value)

    async def _store_after_failure(self, message: InboundMessage) -> list[OutboundMessage]:
        """A bug must not lose what the user sent: store it and apologise."""
        now = self.clock.now()
        async with self.db.write() as session:
            _contact, conversation = await self._load(session, message, now)
            inbound = await self._store_inbound(session, message, conversation, now, failed=True)
            language = conversation.language or self.settings.default_language
            reply = OutboundMessage(text=self.responses.text("utter_internal_error", language))
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

    # ------------------------------------------------------------------ deciding

    async def _turn(self, turn: Turn, message: InboundMessage, text: str) -> None:
        if message.contact_phone:
            self._learn_phone(turn, message.contact_phone)
            if not text and not message.payload and await self.emergency.shared_phone(turn):
                return
        if not text and not message.payload:
            if message.attachments and await self.emergency.media(turn, message):
                return
            if turn.conversation.owner != Owner.BOT:
                # A person has (or will take) this chat: keep it for them, say nothing.
                if message.attachments:
                    self._add_attachments(turn, message)
                await self._not_ours(turn, "")
                return
            if message.attachments:
                self._add_attachments(turn, message)
                if turn.active_form:
                    self.utter(turn, "utter_attachment_added")
                    return
                self.utter(turn, "utter_attachment_received")
                return
            if message.contact_phone:
                self.utter(turn, "utter_phone_received", phone=turn.contact.phone)
                if turn.active_form and turn.requested_slot == "phone":
                    turn.slots["phone"] = turn.contact.phone
                    await self._continue_form(turn, turn.active_form, attempted=False)
                return
            self.utter(turn, "utter_empty_message")
            return
        if message.attachments:
            self._add_attachments(turn, message)

        limit = self.settings.dialogue.max_message_chars
        truncated = len(text) > limit
        if truncated:
            text = text[:limit]

        parse = self._understand(turn, message, text)
        memory.carry_entities(turn.state, parse, turn.now)
        turn.parse = parse
        turn.events.append(
            {"event": "user", "text": text, "parse_data": parse, "timestamp": turn.now.timestamp()}
        )
        # An emergency comes first, whoever owns the chat and whatever form waits for an answer.
        emergency = await self.emergency.turn(turn, message)
        if truncated:
            self.utter(turn, "utter_message_truncated", limit=limit)
        if emergency:
            return

        intent = parse["intent"]["name"]
        owner = turn.conversation.owner
        if owner != Owner.BOT:
            await self._not_ours(turn, intent)
            return
        if intent == "unknown_command":
            self.utter(turn, "utter_unknown_command")
            return
        if intent == "cancel" or (intent == "human"):
            await self._run_rule(turn, intent)
            return
        if message.payload is None and await self.two_requests.turn(turn, message, text):
            return
        if turn.active_form:
            await self._form_turn(turn, turn.active_form, parse, text)
            return
        await self._run_rule(turn, intent)

    def _understand(self, turn: Turn, message: InboundMessage, text: str) -> dict[str, Any]:
        raw = message.payload or text
        payload = parse_payload(raw.strip(), self._known_intents) if raw.strip() else None
        pending = turn.slots.pop("pending_text", None)
        if payload is not None and pending and payload.intent in BUSINESS_INTENTS:
            # The user picked what they meant after a clarifying question: understand their
            # original words with that intent (so 「部電梯有問題」 still fills the form).
            parse = self.interpreter.parse(str(pending), now=turn.now)
            parse["intent"] = {"name": payload.intent, "confidence": 1.0}
        elif payload is not None:
            parse = {
                "text": raw,
                "intent": {"name": payload.intent, "confidence": 1.0},
                "intent_ranking": [{"name": payload.intent, "confidence": 1.0}],
                "entities": to_entities(payload.entities),
                "language": None,
                "command_args": payload.rest,
            }
        else:
            parse = self.interpreter.parse(text, now=turn.now)
            language = parse.get("language") or self.detect_language(text)
            established = bool(turn.state.get("language_known"))
            if language in LANGUAGES and (
                not established or confident_language(text, language, turn.language)
            ):
                turn.slots["language"] = language
                turn.state["language_known"] = True
        # Buttons offered by the last reply (else the pending question's): a typed answer that
        # names one of them presses it (bot/dialogue/choices.py).
        shown = turn.state.pop("choices", None)
        if payload is None and turn.active_form and text.strip():
            question = shown or self.choices.question(turn.active_form, turn.requested_slot)
            resolution = self.choices.resolve(question, text)
            if resolution is None or not finer_than_button(resolution.payload, parse["entities"]):
                press_typed_choice(parse, resolution, self._known_intents)
        return parse

    async def _not_ours(self, turn: Turn, intent: str) -> None:
        """An agent owns the chat (or it waits for one): the bot stays quiet but for the queue."""
        if turn.conversation.owner == Owner.QUEUE:
            if intent == "cancel":
                turn.conversation.owner = Owner.BOT
                turn.conversation.queued_at = None
                turn.events.append({"event": "resume"})
                self.utter(turn, "utter_left_queue")
                return
            last = turn.state.get("queue_notice_at")
            if last is None or turn.now.timestamp() - float(last) > 600:
                turn.state["queue_notice_at"] = turn.now.timestamp()
                self.utter(turn, "utter_still_in_queue")

    async def _run_rule(self, turn: Turn, intent: str) -> None:
        found = {e.get("entity") for e in (turn.parse or {}).get("entities") or []}
        routed = next(
            (a for e, only, a in self._entity_rules if e in found and (not only or intent in only)),
            None,
        )
        if routed is not None and turn.active_form is None and intent != "human":
            # A message carrying e.g. a ticket number is about that ticket, whatever its intent.
            turn.state.pop("fallbacks", None)
            for name in routed:
                await self.run_action(turn, name)
            return
        if intent == "nlu_fallback":
            await self._fallback(turn)
            return
        turn.state.pop("fallbacks", None)
        actions = self._rules.get(intent)
        if not actions:
            actions = self._rules.get("out_of_scope", ["utter_out_of_scope"])
        for name in actions:
            if name in self.domain.forms:
                await self._activate_form(turn, name)
            else:
                await self.run_action(turn, name)

    async def _fallback(self, turn: Turn) -> None:
        count = int(turn.state.get("fallbacks", 0)) + 1
        turn.state["fallbacks"] = count
        if count >= self.settings.dialogue.fallbacks_before_human:
            turn.state["fallbacks"] = 0
            # Offer a person, or (agents.escalate_on_fallback) hand over straight away.
            if self.settings.agents.escalate_on_fallback:
                await self.run_action(turn, "action_handoff", reason="fallback")
            else:
                await self.run_action(turn, "action_offer_human")
            return
        await self.run_action(turn, "action_clarify")

    # ------------------------------------------------------------------ forms

    async def _activate_form(
        self, turn: Turn, form: str, *, carried: dict[str, Any] | None = None
    ) -> None:
        turn.conversation.active_form = form
        turn.slots["requested_slot"] = None
        turn.state["retries"] = {}
        turn.events.append({"event": "active_loop", "name": form})
        for slot in self.domain.required_slots(form) + self._form_extra_slots(form):
            turn.slots[slot] = None
        await self._prefill(turn, form)
        candidates = self._extract(turn, form, requested=None) | (carried or {})
        await self._validate_and_continue(turn, form, candidates, attempted=False)

    def _form_extra_slots(self, form: str) -> list[str]:
        return list(self.domain.forms.get(form, {}).get("reset_slots", []))

    async def _prefill(self, turn: Turn, form: str) -> None:
        """What Kefu already knows about the contact is not asked again: shown in the summary,
        changeable there. The flat is the linked resident's, else the one used last; a flat or
        common area named in the message that starts the form replaces it."""
        required = self.domain.required_slots(form)
        if "phone" in required and turn.contact.phone:
            turn.slots["phone"] = turn.contact.phone
        if "unit" in required:
            from bot.actions.known import known_unit

            turn.slots["unit"] = await known_unit(
                turn.session,
                turn.contact,
                now=turn.now,
                region=self.settings.default_region,
            )

    def _extract(
        self, turn: Turn, form: str | None, requested: str | None, *, entities_only: bool = False
    ) -> dict[str, Any]:
        parse = turn.parse
        return extract_slots(
            self.domain,
            text=parse.get("text", ""),
            intent=parse["intent"]["name"],
            entities=parse.get("entities", []),
            active_form=form,
            requested_slot=requested,
            entities_only=entities_only,
        )

    async def _form_turn(self, turn: Turn, form: str, parse: dict[str, Any], text: str) -> None:
        intent = parse["intent"]["name"]
        requested = turn.requested_slot
        target = switch.corrected_kind(form, requested, text, intent)
        if target is not None:
            # 「唔係投訴呀 我係要整走廊啲燈」 at the summary: the same request, of another kind.
            carried = switch.carried(form, target, turn.slots, text)
            self.deactivate_form(turn)
            self.utter(turn, f"utter_switched_to_{target.removesuffix('_form')}")
            await self._activate_form(turn, target, carried=carried)
            return
        if intent == "change":
            slot = parse["entities"][0]["value"] if parse.get("entities") else None
            if slot in self.domain.required_slots(form):
                turn.slots[slot] = None
                self._reset_confirmation(turn, form)
                turn.slots["requested_slot"] = None
                await self._continue_form(turn, form, attempted=False)
                return
        entity_slots = self._extract(turn, form, requested=None, entities_only=True)
        fills_requested = requested is not None and requested in entity_slots
        spec = self.domain.forms.get(form, {})
        idle = turn.now - turn.conversation.updated_at
        if not fills_requested and idle > self.settings.dialogue.form_timeout:
            # Back after days: a new message starts afresh instead of answering an old question.
            self.deactivate_form(turn)
            self.utter(turn, "utter_form_expired")
            await self._run_rule(turn, intent)
            return
        interrupts = spec.get("interrupt_intents") or []
        if (
            intent in interrupts
            and requested not in (spec.get("free_text_slots") or [])
            and not fills_requested
            and float(parse["intent"].get("confidence", 0)) >= max(self.settings.nlu.threshold, 0.6)
            and substantial(text)
        ):
            # A new request where a flat, a rating or a choice was expected: leave the form
            # (saying so, if the form wants it said) and serve the new request.
            self.deactivate_form(turn)
            if spec.get("left_response"):
                self.utter(turn, str(spec["left_response"]))
            await self._run_rule(turn, intent)
            return
        if (
            not entity_slots
            and intent in INTERRUPTING
            and self._confident(parse)
            and not (requested in (spec.get("cost_question_slots") or []) and asks_cost(text))
        ):
            # (A cost question where the visit time is asked is about this repair: the form
            # notes it for the technician instead of answering from the FAQ.)
            handled = await self._interrupt(turn, intent)
            if handled:
                await self._ask(turn, form, requested)
                return
        candidates = self._extract(turn, form, requested=requested)
        others = {k: v for k, v in entity_slots.items() if k != requested}
        corrections = {
            k: v
            for k, v in others.items()
            if turn.slots.get(k) is not None and turn.slots.get(k) != v
        }
        if others and not fills_requested and requested is not None and mostly_entities(parse):
            # The message answers another question (「不是，是1503室」, or the flat when asked
            # for the category): take that answer, keep the open question open.
            candidates.pop(requested, None)
        if corrections:
            self._reset_confirmation(turn, form)
            candidates = {k: v for k, v in candidates.items() if not k.endswith("_confirmed")}
        await self._validate_and_continue(
            turn, form, candidates, attempted=requested is not None, corrected=bool(corrections)
        )

    def _confident(self, parse: dict[str, Any]) -> bool:
        return float(parse["intent"].get("confidence", 0)) >= self.settings.nlu.threshold

    async def _interrupt(self, turn: Turn, intent: str) -> bool:
        """Answer a side question inside a form; ``False`` if there was nothing to answer."""
        if intent == "inquiry":
            return await self.run_action(turn, "action_answer_faq", interrupt=True)
        actions = self._rules.get(intent) or []
        if not actions or any(a in self.domain.forms for a in actions):
            return False
        for name in actions:
            await self.run_action(turn, name)
        return True

    def _reset_confirmation(self, turn: Turn, form: str) -> None:
        for slot in self.domain.required_slots(form):
            if slot.endswith("_confirmed"):
                turn.slots[slot] = None

    async def _validate_and_continue(
        self,
        turn: Turn,
        form: str,
        candidates: dict[str, Any],
        *,
        attempted: bool,
        corrected: bool = False,
    ) -> None:
        for slot, value in candidates.items():
            turn.events.append({"event": "slot", "name": slot, "value": value})
        before = {slot: turn.slots.get(slot) for slot in candidates}
        validated = await self._run_validation(turn, form, candidates)
        if corrected:
            refused = corrections.rejected(candidates, validated)
            if refused and turn.state.pop("validation_uttered", False):
                # The validator said what is wrong with the correction and asked for it again:
                # no "corrected", and that question is not asked a second time.
                turn.slots["requested_slot"] = refused[0]
                return
            if not refused:
                response, values = corrections.correction_reply(before, validated, turn.language)
                self.utter(turn, response, **values)
        await self._continue_form(turn, form, attempted=attempted, validated=validated)

    async def _run_validation(
        self, turn: Turn, form: str, candidates: dict[str, Any]
    ) -> dict[str, Any]:
        """Run ``validate_<form>`` (if registered) on the candidates; apply what it returns."""
        name = f"validate_{form}"
        if name not in self._action_names:
            turn.slots.update(candidates)
            return dict(candidates)
        before = dict(turn.slots)
        turn.slots.update(candidates)
        # The SDK validates the SlotSet events at the end of the tracker's event list.
        result = await self._execute(
            turn,
            name,
            extra_events=[{"event": "slot", "name": k, "value": v} for k, v in candidates.items()],
            slots=before | candidates,
            metadata={"previous_slots": {k: before.get(k) for k in candidates}},
        )
        validated: dict[str, Any] = dict(candidates)
        for event in result:
            if event.get("event") == "slot":
                validated[event["name"]] = event.get("value")
        turn.slots.update(validated)
        return validated

    async def _continue_form(
        self,
        turn: Turn,
        form: str,
        *,
        attempted: bool,
        validated: dict[str, Any] | None = None,
    ) -> None:
        requested = turn.requested_slot
        validated = validated or {}
        if "requested_slot" in validated:
            next_slot = validated["requested_slot"]
        else:
            next_slot = next(
                (s for s in self.domain.required_slots(form) if turn.slots.get(s) is None), None
            )
        retries: dict[str, int] = turn.state.setdefault("retries", {})
        uttered = turn.state.pop("validation_uttered", False)
        # A validator that names the requested slot again without a word of its own asks it on
        # purpose (the next item of a series, e.g. the owner evaluation's next area): an
        # answer, not a failed one.
        again = validated.get("requested_slot") == requested and not uttered
        if attempted and requested and next_slot == requested and not again:
            # A "no" at a summary is a wish to edit, not a failed answer.
            if not requested.endswith("_confirmed"):
                retries[requested] = retries.get(requested, 0) + 1
                if retries[requested] >= self.settings.dialogue.max_form_retries:
                    retries[requested] = 0
                    self.utter(turn, "utter_offer_human_after_retries")
                    return
            if uttered:
                # The validator already said what is wrong and asked again (or what to edit).
                turn.slots["requested_slot"] = next_slot
                return
        if next_slot is None:
            await self._submit(turn, form)
            return
        turn.slots["requested_slot"] = next_slot
        await self._ask(turn, form, next_slot)

    async def _ask(self, turn: Turn, form: str, slot: str | None) -> None:
        if slot is None:
            return
        for name in (f"action_ask_{form}_{slot}", f"action_ask_{slot}"):
            if name in self._action_names:
                await self.run_action(turn, name)
                return
        for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
            if name in self.responses:
                self.utter(turn, name)
                return
        log.error("no question for slot %s of %s", slot, form)

    async def _submit(self, turn: Turn, form: str) -> None:
        turn.conversation.active_form = None
        turn.slots["requested_slot"] = None
        turn.state["retries"] = {}
        turn.events.append({"event": "active_loop", "name": None})
        for name in self._submit_actions(form):
            await self.run_action(turn, name)

    def _submit_actions(self, form: str) -> list[str]:
        for rule in self.domain.rules:
            conditions = rule.get("condition") or []
            if not any(c.get("active_loop") == form for c in conditions):
                continue
            steps = rule.get("steps", [])
            if any(s.get("active_loop", "") is None for s in steps):
                return [s["action"] for s in steps if "action" in s and s["action"] != form]
        return [f"action_submit_{form.removesuffix('_form')}"]

    def deactivate_form(self, turn: Turn) -> None:
        """Leave the active form, forgetting what it had collected."""
        form = turn.active_form
        if form is None:
            return
        for slot in self.domain.required_slots(form) + self._form_extra_slots(form):
            turn.slots[slot] = None
        turn.slots["requested_slot"] = None
        turn.conversation.active_form = None
        turn.state["retries"] = {}
        turn.events.append({"event": "active_loop", "name": None})

    # ------------------------------------------------------------------ actions

    async def run_action(self, turn: Turn, name: str, **metadata: Any) -> bool:
        """Run a response (``utter_*``) or a registered action; apply its events.

        Returns ``False`` if the action reported it had nothing to do (an ``action_*`` may
        return a ``{"event": "action_execution_rejected"}`` event for that).
        """
        if name.startswith("utter_") and name not in self._action_names:
            self.utter(turn, name)
            return True
        if name not in self._action_names:
            log.error("unknown action %s", name)
            self.utter(turn, "utter_internal_error")
            return False
        events = await self._execute(turn, name, metadata=metadata)
        return await self._apply(turn, events)

    async def _execute(
        self,
        turn: Turn,
        name: str,
        *,
        extra_events: Sequence[dict[str, Any]] = (),
        slots: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        latest = dict(turn.parse) if turn.parse else {"text": "", "intent": {}, "entities": []}
        latest["metadata"] = {
            "conversation_id": turn.conversation.id,
            "contact_id": turn.contact.id,
            "channel": turn.channel,
            "chat_id": turn.conversation.chat_id,
            "now": turn.now.isoformat(),
            **(metadata or {}),
        }
        tracker = {
            "sender_id": f"{turn.channel}:{turn.conversation.chat_id}",
            "slots": dict(slots if slots is not None else turn.slots),
            "latest_message": latest,
            "events": [e for e in turn.events if e.get("event") == "user"][-1:]
            + list(extra_events),
            "paused": turn.conversation.owner != Owner.BOT,
            "followup_action": None,
            "active_loop": {"name": turn.active_form} if turn.active_form else {},
            "latest_action_name": None,
            "latest_input_channel": turn.channel,
        }
        result = await self.executor.run(
            {"next_action": name, "tracker": tracker, "domain": self._domain_dict}
        )
        if result is None:
            return []
        event: dict[str, Any] = {"event": "action", "name": name}
        if metadata:
            event["metadata"] = metadata
        turn.events.append(event)
        for message in result.responses:
            self._utter_message(turn, message)
        if result.responses and name.startswith("validate_"):
            turn.state["validation_uttered"] = True
        return list(result.events)

    async def _apply(self, turn: Turn, events: list[dict[str, Any]]) -> bool:
        handled = True
        for event in events:
            kind = event.get("event")
            turn.events.append(event)
            if kind == "slot":
                turn.slots[event["name"]] = event.get("value")
                if event["name"] == "language":
                    turn.state["language_known"] = True
            elif kind == "active_loop":
                if event.get("name") is None:
                    self.deactivate_form(turn)
                elif event["name"] in self.domain.forms:
                    await self._activate_form(turn, event["name"])
            elif kind == "pause":
                turn.conversation.owner = Owner.QUEUE
                turn.conversation.queued_at = turn.now
            elif kind == "resume":
                turn.conversation.owner = Owner.BOT
                turn.conversation.queued_at = None
            elif kind == "reset_slots":
                language = turn.slots.get("language")
                turn.slots = {"language": language}
            elif kind == "action_execution_rejected":
                handled = False
            elif kind == "followup":
                await self.run_action(turn, str(event.get("name")))
        return handled

    # ------------------------------------------------------------------ replies

    def utter(self, turn: Turn, response: str, **values: Any) -> None:
        """Queue response ``response`` in the user's language."""
        message = self.responses.render(response, turn.language, self._values(turn, values))
        if message is not None:
            if message.buttons:
                turn.state["choices"] = response
            turn.replies.append(message)
            turn.events.append(
                {"event": "bot", "text": message.text, "metadata": {"response": response}}
            )

    def _utter_message(self, turn: Turn, message: dict[str, Any]) -> None:
        """A message an action sent through the dispatcher."""
        values = self._values(turn, {k: v for k, v in message.items() if k not in _MESSAGE_KEYS})
        name = message.get("response")
        if name:
            variation = self.responses.variation(name, turn.language)
            if variation is None:
                log.error("action used missing response %s", name)
                return
            base = dict(variation)
            out = self.responses.build(
                base, turn.language, values, extra_buttons=message.get("buttons")
            )
        else:
            # Actions never carry user-facing text themselves; accept only data-only messages
            # (e.g. an image) and FAQ texts the action looked up in dialogues/.
            out = self.responses.build(message, turn.language, values)
        if message.get("image"):
            out = OutboundMessage(
                text=out.text,
                buttons=out.buttons,
                images=out.images or (),
                request_contact=out.request_contact,
            )
        if name and out.buttons:
            turn.state["choices"] = name
        turn.replies.append(out)
        turn.events.append({"event": "bot", "text": out.text, "metadata": {"response": name}})

    def _values(self, turn: Turn, values: dict[str, Any]) -> dict[str, Any]:
        merged = {k: v for k, v in turn.slots.items() if isinstance(v, str | int | float)}
        merged.update(values)
        return merged

    # ------------------------------------------------------------------ helpers

    def _learn_phone(self, turn: Turn, phone: str) -> None:
        from bot.nlu.entities import parse_phone

        normalised = parse_phone(phone, self.settings.default_region) or phone
        turn.contact.phone = normalised
        turn.contact.phone_verified = True
        turn.contact.updated_at = turn.now

    def _add_attachments(self, turn: Turn, message: InboundMessage) -> None:
        files = list(turn.slots.get("attachments") or [])
        files.extend(a.to_dict() for a in message.attachments)
        turn.slots["attachments"] = files


_MESSAGE_KEYS = {
    "text",
    "buttons",
    "elements",
    "custom",
    "template",
    "response",
    "image",
    "attachment",
}


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
