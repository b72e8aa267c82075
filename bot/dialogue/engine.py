"""The dialogue engine.

One turn: record the delivery and the inbound message, lock the conversation, ask the NLU, pick
the next action (commands, forms, rules, fallback), run rasa_sdk actions through the executor,
apply their events, store every event and every reply, commit. Replies are returned to the
channel, which reports delivery with :meth:`Engine.mark_sent`; a redelivered message replays
what was not sent yet instead of running again.

The engine wires the parts of a turn and owns its transaction; each part is its own module:

- bot/dialogue/turn.py: :class:`Turn` and the surface the parts share (:class:`TurnRunner`,
  implemented here, and :class:`Knowledge`);
- bot/dialogue/store.py (with bot/dialogue/statements.py): the turn store, SQLite and PostgreSQL;
- bot/dialogue/policy.py: what a turn does with a message;
- bot/dialogue/forms.py: the form loop;
- bot/dialogue/bridge.py: rasa_sdk actions and responses;
- bot/dialogue/emergency.py and bot/dialogue/tworequests.py: the two paths asked first;
- bot/dialogue/outbox.py: storing and confirming outbound messages (also outside turns).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from rasa_sdk.executor import ActionExecutor
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.actions import runtime
from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.bridge import ActionBridge
from bot.dialogue.choices import ChoiceResolver
from bot.dialogue.domain import Domain
from bot.dialogue.emergency import EmergencyPolicy
from bot.dialogue.forms import FormLoop
from bot.dialogue.outbox import Outbox
from bot.dialogue.policy import ENGINE_INTENTS, Policy
from bot.dialogue.responses import Responses
from bot.dialogue.statements import SET_INTENT, find_conversation
from bot.dialogue.store import TurnStore
from bot.dialogue.text import clean_text, copy_json, hint_language
from bot.dialogue.turn import Interpreter, Knowledge, Turn, TurnRunner
from bot.dialogue.tworequests import TwoRequests
from bot.events import OwnerChanged, publish
from bot.messages import Attachment, InboundMessage, OutboundMessage
from bot.store.db import Database, StoreUnavailable, is_outage
from bot.store.models import Conversation, ConversationEvent, Message, Owner

__all__ = ["ConversationBusy", "Engine", "Interpreter", "Turn", "TurnRunner"]

log = logging.getLogger(__name__)


class ConversationBusy(Exception):
    """The conversation cannot take a proactive form now (another form, or a person owns it)."""


def detect_language_default(text: str) -> str | None:
    """The NLU package's language detection, imported only when the engine first needs it."""
    from bot.nlu import detect_language

    return detect_language(text)


class Engine:
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
        self.known = Knowledge(
            settings=settings,
            domain=domain,
            responses=self.responses,
            choices=self.choices,
            interpreter=interpreter,
            rules=domain.intent_rules(),
            entity_rules=domain.entity_rules(),
            known_intents=set(domain.intents) | ENGINE_INTENTS,
            action_names={a.name for a in executor.list_actions()},
        )
        self._locks: OrderedDict[tuple[str, str], asyncio.Lock] = OrderedDict()
        self.observers: list[Callable[[Turn], Any]] = []
        self.outbox = Outbox(db=db, clock=clock, settings=settings, responses=self.responses)
        self.store = TurnStore(db, self.outbox)
        # Calls down go straight to the part below (policy -> forms -> bridge); calls back up
        # (an action's event opening a form, an expired form handing the message to the
        # rules, the emergency path running an action) go through this engine, a TurnRunner.
        runner: TurnRunner = self
        self.bridge = ActionBridge(runner, self.known, executor)
        self.forms = FormLoop(runner, self.known, self.bridge)
        self.emergency = EmergencyPolicy(runner, settings)
        self.two_requests = TwoRequests(runner, self.known, self.emergency)
        self.policy = Policy(
            self.known,
            forms=self.forms,
            bridge=self.bridge,
            emergency=self.emergency,
            two_requests=self.two_requests,
            detect_language=detect_language,
        )

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
                replay = await self.store.replay(message) if message.delivery_id else None
                if replay is not None:
                    return replay
                raise
            except Exception as exc:
                if is_outage(exc):  # e.g. a serialization failure: the delivery comes back
                    raise
                log.exception("turn failed for %s:%s", message.channel, message.chat_id)
                return await self.store.store_after_failure(
                    message, self.clock.now(), self._apology
                )

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
            await publish(own, OwnerChanged(conversation.id, str(owner), now, agent_id))
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
        return await self.outbox.notify(conversation_id, response, values, session=session)

    async def resume(self, channel: str, chat_id: str) -> list[OutboundMessage]:
        """What to show a returning user who left in the middle of a form (not stored)."""
        async with self.db.session() as session:
            conversation = await find_conversation(
                session, channel, chat_id, is_sqlite=self.db.is_sqlite
            )
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

    async def _handle_locked(self, message: InboundMessage) -> list[OutboundMessage]:
        """One turn in one write transaction: load and store, decide, save, observe."""
        now = self.clock.now()
        async with self.db.write() as session:
            loaded = await self.store.load_and_store(session, message, now)
            if loaded is not None:
                contact, conversation, inbound = loaded
            else:
                contact, conversation = await self.store.load(session, message, now)
                inbound = await self.store.store_inbound(session, message, conversation, now)
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
                await self.policy.decide(turn, message, text)
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
                    await (await session.connection()).execute(SET_INTENT, also)
                    also = {}
            replies = await self.store.save(turn, intent=also)
            for observer in self.observers:
                result = observer(turn)
                if asyncio.iscoroutine(result):
                    await result
            return replies

    def _apology(self, language: str | None) -> OutboundMessage:
        """What a user hears when their turn failed on a bug."""
        language = language or self.settings.default_language
        return OutboundMessage(text=self.responses.text("utter_internal_error", language))

    # ------------------------------------------------------------------ TurnRunner

    def utter(self, turn: Turn, response: str, **values: Any) -> None:
        """Queue response ``response`` in the user's language."""
        self.bridge.utter(turn, response, **values)

    async def run_action(self, turn: Turn, name: str, **metadata: Any) -> bool:
        """Run a response (``utter_*``) or a registered action; apply its events.

        Returns ``False`` if the action reported it had nothing to do (an ``action_*`` may
        return a ``{"event": "action_execution_rejected"}`` event for that).
        """
        return await self.bridge.run_action(turn, name, **metadata)

    async def run_rule(self, turn: Turn, intent: str) -> None:
        """Do what the rules say follows ``intent`` (actions, or a form)."""
        await self.policy.run_rule(turn, intent)

    async def form_turn(self, turn: Turn, form: str, parse: dict[str, Any], text: str) -> None:
        """Take ``text`` as the answer to the active form's question."""
        await self.forms.answer(turn, form, parse, text)

    async def activate_form(
        self, turn: Turn, form: str, *, carried: dict[str, Any] | None = None
    ) -> None:
        """Open ``form`` and ask its first question."""
        await self.forms.activate(turn, form, carried=carried)

    def deactivate_form(self, turn: Turn) -> None:
        """Leave the active form, forgetting what it had collected."""
        self.forms.deactivate(turn)

    # ------------------------------------------------------------------ outbox

    async def mark_sent(self, outbound_id: int, channel_message_id: str | None = None) -> None:
        """Record that the channel delivered an outbound message (so it is never resent)."""
        await self.outbox.mark_sent(outbound_id, channel_message_id)

    async def mark_sent_many(self, sent: Sequence[tuple[int, str | None]]) -> None:
        """:meth:`mark_sent` for several messages in one transaction."""
        await self.outbox.mark_sent_many(sent)

    async def claim(self, ids: Sequence[int]) -> tuple[str, set[int]]:
        """Claim outbound rows for sending (:meth:`bot.dialogue.outbox.Outbox.claim`)."""
        return await self.outbox.claim(ids)

    async def renew(self, token: str, ids: Sequence[int]) -> set[int]:
        """Extend the lease of rows ``token`` still holds; returns them."""
        return await self.outbox.renew(token, ids)

    async def release(self, token: str, ids: Sequence[int]) -> None:
        """Give back rows ``token`` holds and did not send."""
        await self.outbox.release(token, ids)

    async def unsent(
        self, channel: str, *, chat_id: str | None = None, limit: int = 500
    ) -> list[OutboundMessage]:
        """Outbox rows of ``channel`` (or of one chat) not delivered and not being sent."""
        return await self.outbox.unsent(channel, chat_id=chat_id, limit=limit)

    async def mark_unreachable(self, channel: str, chat_id: str) -> None:
        """The user blocked the bot (or similar): stop trying to reach them."""
        await self.outbox.mark_unreachable(channel, chat_id)

    async def notify(
        self,
        conversation_id: int,
        response: str,
        values: dict[str, Any] | None = None,
        *,
        session: AsyncSession | None = None,
        sender: str = "bot",
    ) -> list[OutboundMessage]:
        """Store a proactive message (survey, reminder, agent reply) in the outbox."""
        return await self.outbox.notify(
            conversation_id, response, values, session=session, sender=sender
        )

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
        return await self.outbox.send_text(
            conversation_id, text, sender=sender, images=images, session=session
        )
