"""The agents' side in Telegram: escalations become forum topics with a card; agents claim,
answer, note, resolve, release and assign from there.

:class:`AgentDesk` plugs into the running bot in three places:

* ``engine.observers`` (:meth:`AgentDesk.observe`): inside every user turn's transaction it
  detects escalations (a person asked for, complaint / urgent tickets, repeated fallbacks when
  configured, a bad survey score), cancels an escalation the customer left, and relays the
  customer's messages of an escalated conversation into the group outbox;
* ``TelegramChannel.hooks`` (:meth:`AgentDesk.on_update`): updates from the agents' groups —
  card buttons, ``/note /resolve /release /assign /queue /mine /claim`` and the agents'
  replies, relayed to the customer under the agent's name; anyone not registered is ignored and
  logged;
* background tasks: the :class:`~bot.agents.relay.GroupRelay` and a small pump delivering the
  customer messages this module stored outside a turn.

It also provides follow-up handlers (claim reminder, then supervisors) and :class:`GroupAlerts`,
the :class:`bot.followups.sla.Alerts` that posts SLA breaches and emergencies to the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_object_session
from telegram import Bot, CallbackQuery, Message, Update, User
from telegram.error import TelegramError

from bot.agents.cards import parse_callback
from bot.agents.idle import CLAIM_IDLE, ClaimIdle, schedule_idle_check
from bot.agents.menu import set_agent_menus
from bot.agents.models import OPEN_STATES, Agent, AgentTopic, PostKind, TopicState
from bot.agents.registry import by_telegram_id, find_agent, supervisors
from bot.agents.relay import GroupRelay, close_topic, refresh_card
from bot.agents.reopen import TOPIC_REOPEN, TopicReopen
from bot.agents.service import CLAIM_REMINDER, CLAIM_SUPERVISOR, EngineLike, Outcome, Takeover
from bot.agents.staff_commands import handle_staff_command, staff_followup_handlers
from bot.channels.telegram.channel import RETRYABLE, RetryLater
from bot.clock import Clock
from bot.config import Settings
from bot.followups.models import Followup
from bot.messages import Attachment, OutboundMessage
from bot.store.db import Database, StoreUnavailable, is_outage, log_failure
from bot.store.models import (
    Contact,
    Conversation,
    ConversationEvent,
    Owner,
    Priority,
    Ticket,
    TicketEvent,
)
from bot.store.models import Message as StoredMessage

log = logging.getLogger(__name__)

REASONS = ("human", "complaint", "emergency", "fallback", "survey", "sla")
COMMANDS = ("note", "resolve", "release", "assign", "queue", "mine", "claim", "help")


class AgentDesk:
    """The human takeover on Telegram. Build with :func:`attach_agents` in a running bot."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        engine: EngineLike,
        clock: Clock,
        bot: Bot,
        channel: Any = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.engine = engine
        self.clock = clock
        self.bot = bot
        self.channel = channel
        self.takeover = Takeover(settings, db, engine, clock)
        self.relay = GroupRelay(db, bot, self.takeover, clock)
        self.group_ids = {g.chat_id for g in settings.agents.all_groups()}
        self._customer_pending: dict[int, int] = {}  # stored message id -> rounds not visible
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ lifecycle

    def install(self, channel: Any) -> None:
        """Register the observer on the engine and the update hook on the channel."""
        self.channel = channel
        channel.hooks.append(self.on_update)
        observers = getattr(self.engine, "observers", None)
        if observers is not None:
            observers.append(self.observe)

    async def start(self) -> None:
        """Check the groups, give them the agents' command menu, start relaying to them and
        delivering queued customer notices."""
        await self.check_groups()
        await set_agent_menus(
            self.bot, sorted(self.group_ids), self.engine.responses, self.takeover.language
        )
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self.relay.run_forever(self._stop), name="agents-relay"),
            asyncio.create_task(self._pump_forever(), name="agents-customer-pump"),
        ]

    async def check_groups(self) -> list[str]:
        """Warn (and return why) when a group is not a forum or the bot cannot manage topics."""
        problems: list[str] = []
        for group in self.settings.agents.all_groups():
            try:
                chat = await self.bot.get_chat(group.chat_id)
                if not chat.is_forum:
                    problems.append(f"agents group {group.name} ({group.chat_id}) has no topics")
                member = await self.bot.get_chat_member(group.chat_id, self.bot.id)
                if not getattr(member, "can_manage_topics", False):
                    problems.append(
                        f"the bot is not an admin with 'Manage topics' in agents group "
                        f"{group.name} ({group.chat_id})"
                    )
            except Exception as exc:  # a start-up check: never stop the bot for it
                problems.append(f"agents group {group.name} ({group.chat_id}): {exc!r}")
        for problem in problems:
            log.warning("%s", problem)
        return problems

    async def stop(self) -> None:
        """Stop the background tasks."""
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        self._tasks = []

    # ------------------------------------------------------------------ engine observer

    async def observe(self, turn: Any) -> None:
        """Called at the end of every user turn, inside its transaction.

        A failure here is logged and undone (a savepoint on PostgreSQL) without failing the
        customer's turn.
        """
        try:
            if self.db.is_sqlite:
                await self._observe(turn)
            else:
                async with turn.session.begin_nested():
                    await self._observe(turn)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("takeover: turn of conversation %s not observed", turn.conversation.id)

    async def _observe(self, turn: Any) -> None:
        session: AsyncSession = turn.session
        conversation: Conversation = turn.conversation
        now: datetime = turn.now
        events: list[dict[str, Any]] = turn.events
        topic = await self.takeover.open_topic(session, conversation.id)
        left_queue = any(e.get("event") == "resume" for e in events)
        if topic is not None and conversation.owner == Owner.BOT and left_queue:
            await self.takeover.cancel(session, topic, now)
            self.relay.wake()
            return
        reason, ticket = await self._trigger(session, conversation, events, now)
        if reason is not None and (topic is None or topic.state == TopicState.QUEUED):
            escalated = await self.takeover.escalate(
                session, conversation, reason=reason, now=now, ticket=ticket
            )
            if escalated is not None:
                await self._remember_notices(session, conversation.id, now)
                self.relay.wake()
            return
        if topic is not None and conversation.owner != Owner.BOT and turn.inbound is not None:
            contact: Contact = turn.contact
            sender = contact.display_name or f"#{conversation.chat_id}"
            await self.takeover.relay_customer_message(session, topic, turn.inbound, sender, now)
            await schedule_idle_check(session, self.settings, topic, now)  # waiting again?
            self.relay.wake()
        elif topic is None and conversation.owner == Owner.QUEUE:
            # Queued without a topic (e.g. the groups were configured later): escalate now.
            await self.takeover.escalate(session, conversation, reason="human", now=now)
            await self._remember_notices(session, conversation.id, now)
            self.relay.wake()

    async def _trigger(
        self,
        session: AsyncSession,
        conversation: Conversation,
        events: Sequence[dict[str, Any]],
        now: datetime,
    ) -> tuple[str | None, Ticket | None]:
        cfg = self.settings.agents
        escalated = select(AgentTopic.ticket_id).where(AgentTopic.ticket_id.is_not(None))
        opened = list(
            (
                await session.execute(
                    select(Ticket).where(
                        Ticket.conversation_id == conversation.id,
                        Ticket.created_at >= now,
                        Ticket.id.not_in(escalated),  # a ticket is escalated once
                    )
                )
            ).scalars()
        )
        for ticket in opened:
            if ticket.priority == Priority.URGENT and cfg.escalate_urgent:
                return "emergency", ticket
        for ticket in opened:
            if ticket.kind in cfg.escalate_intents:
                return ticket.kind, ticket
        for event in events:
            value = event.get("value")
            if event.get("event") == "slot" and event.get("name") == "escalate_reason" and value:
                kind, _, number = str(value).partition(":")
                named = (
                    await session.execute(select(Ticket).where(Ticket.number == number))
                ).scalar_one_or_none()
                if kind == "survey" and cfg.escalate_survey_score <= 0:
                    break
                return (kind if kind in REASONS else "survey"), named
        if any(
            e.get("event") == "action" and (e.get("metadata") or {}).get("reason") == "fallback"
            for e in events
        ):
            return "fallback", None  # the engine handed over after repeated misunderstanding
        if any(e.get("event") == "pause" for e in events):
            return "human", None
        if cfg.escalate_survey_score > 0:
            scored = (
                (
                    await session.execute(
                        select(Ticket).where(
                            Ticket.conversation_id == conversation.id,
                            Ticket.survey_score.is_not(None),
                            Ticket.survey_score <= cfg.escalate_survey_score,
                            Ticket.updated_at >= now,
                            Ticket.id.not_in(escalated.where(AgentTopic.state.in_(OPEN_STATES))),
                        )
                    )
                )
                .scalars()
                .first()
            )
            if scored is not None:
                return "survey", scored
        return None, None

    async def _remember_notices(
        self, session: AsyncSession, conversation_id: int, now: datetime
    ) -> None:
        """Customer messages the escalation stored (not part of the turn's replies)."""
        rows = await session.execute(
            select(StoredMessage.id).where(
                StoredMessage.conversation_id == conversation_id,
                StoredMessage.direction == "out",
                StoredMessage.sent_at.is_(None),
                StoredMessage.reply_to_id.is_(None),
                StoredMessage.created_at >= now,
            )
        )
        for message_id in rows.scalars():
            self._customer_pending[message_id] = 0

    # ------------------------------------------------------------------ customer delivery

    async def deliver_to_customer(self, outs: Sequence[OutboundMessage]) -> None:
        """Deliver messages stored for a customer (Telegram chats only; others keep them)."""
        if not outs or self.channel is None:
            return
        for out in outs:
            if out.id is not None:
                self._customer_pending.pop(out.id, None)
        telegram = await self._telegram_only(outs)
        if telegram:
            try:
                await self.channel.deliver(telegram)
            except Exception as exc:  # still in the outbox; the channel's flush sends it later
                log.warning("customer delivery deferred: %s", exc)

    async def _telegram_only(self, outs: Sequence[OutboundMessage]) -> list[OutboundMessage]:
        ids = [o.id for o in outs if o.id is not None]
        if not ids:
            return []
        async with self.db.session() as session:
            rows = await session.execute(
                select(StoredMessage.id, Conversation.channel)
                .join(Conversation, Conversation.id == StoredMessage.conversation_id)
                .where(StoredMessage.id.in_(ids))
            )
            channel_of = {mid: ch for mid, ch in rows}
        return [o for o in outs if channel_of.get(o.id or -1) == "telegram"]

    async def pump_once(self) -> int:
        """Deliver stored customer notices whose transaction has committed; returns count."""
        if not self._customer_pending or self.channel is None:
            return 0
        ids = list(self._customer_pending)
        async with self.db.session() as session:
            rows = await session.execute(
                select(StoredMessage, Conversation.chat_id, Conversation.channel)
                .join(Conversation, Conversation.id == StoredMessage.conversation_id)
                .where(StoredMessage.id.in_(ids))
                .order_by(StoredMessage.id)
            )
            found = list(rows)
        seen = set()
        outs = []
        for message, chat_id, channel in found:
            seen.add(message.id)
            self._customer_pending.pop(message.id, None)
            if message.sent_at is None and channel == "telegram":
                outs.append(OutboundMessage.from_dict(message.data, id=message.id, chat_id=chat_id))
        for missing in set(ids) - seen:  # not committed yet, or rolled back
            self._customer_pending[missing] += 1
            if self._customer_pending[missing] > 30:
                del self._customer_pending[missing]
        if outs:
            try:
                await self.channel.deliver(outs)
            except Exception as exc:
                log.warning("customer notices deferred: %s", exc)
        return len(outs)

    async def _pump_forever(self) -> None:
        interval = self.settings.agents.relay_poll.total_seconds()
        while not self._stop.is_set():
            try:
                await self.pump_once()
            except Exception as exc:
                log_failure(log, exc, "customer notice pump failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)

    # ------------------------------------------------------------------ group updates

    async def on_update(self, update: Update, channel: Any = None) -> bool:
        """The channel hook: ``True`` for every update from an agents' group (handled here)."""
        chat = update.effective_chat
        if chat is None or chat.id not in self.group_ids:
            return False
        try:
            if update.callback_query is not None:
                await self._on_button(update.callback_query)
            elif update.message is not None:
                await self._on_message(update.message)
        except Exception as exc:
            if is_outage(exc) or isinstance(exc, RETRYABLE):  # have it delivered again
                raise RetryLater(f"agents' group update {update.update_id}: {exc}") from exc
            raise  # fails for good: the poller or webhook keeps it as a dead letter
        return True

    async def _agent(self, user: User | None) -> Agent | None:
        if user is None or user.is_bot:
            return None
        async with self.db.session() as session:
            agent = await by_telegram_id(session, user.id)
        if agent is not None and user.username and agent.username != user.username:
            async with self.db.write() as session:
                row = await session.get(Agent, agent.id)
                if row is not None:
                    row.username = user.username
            agent.username = user.username
        return agent

    async def _topic_of(self, chat_id: int, thread_id: int | None) -> AgentTopic | None:
        if thread_id is None:
            return None
        async with self.db.session() as session:
            stmt = (
                select(AgentTopic)
                .where(AgentTopic.group_chat_id == chat_id, AgentTopic.thread_id == thread_id)
                .order_by(AgentTopic.id.desc())
                .limit(1)
            )
            return (await session.execute(stmt)).scalar_one_or_none()

    async def _notice(
        self, chat_id: int, thread_id: int | None, text: str, topic: AgentTopic | None = None
    ) -> None:
        async with self.db.write() as session:
            self.takeover.post(
                session,
                topic,
                PostKind.NOTICE,
                now=self.clock.now(),
                text=text,
                group_chat_id=chat_id,
                thread_id=thread_id,
            )
        self.relay.wake()

    async def _on_button(self, query: CallbackQuery) -> None:
        agent = await self._agent(query.from_user)
        parsed = parse_callback(query.data)
        if agent is None or parsed is None:
            log.info(
                "ignored button %r from non-agent or unknown data, user %s",
                query.data,
                query.from_user.id,
            )
            await self._answer(query)
            return
        action, topic_id = parsed
        outcome = await self._do(action, topic_id, agent, "")
        await self._answer(query, self._outcome_text(action, outcome, agent))

    async def _answer(self, query: CallbackQuery, text: str | None = None) -> None:
        try:
            await self.bot.answer_callback_query(query.id, text=text or None)
        except TelegramError as exc:
            log.debug("answerCallbackQuery: %s", exc)

    async def _do(self, action: str, topic_id: int, agent: Agent, arg: str) -> Outcome:
        if action == "claim":
            outcome = await self.takeover.claim(topic_id, agent)
        elif action == "resolve":
            outcome = await self.takeover.resolve(topic_id, agent, arg)
        else:
            outcome = await self.takeover.release(topic_id, agent, arg)
        if outcome.ok:
            await self._after(outcome)
        return outcome

    async def _after(self, outcome: Outcome) -> None:
        await self.deliver_to_customer(outcome.customer)
        if outcome.topic is not None:
            await refresh_card(self.db, self.bot, self.takeover, outcome.topic.id)
            if "close" in outcome.topic_ops:
                await close_topic(self.db, self.bot, self.takeover, outcome.topic.id)
        self.relay.wake()

    def _outcome_text(self, action: str, outcome: Outcome, agent: Agent) -> str:
        if outcome.ok:
            return self.takeover.text(f"utter_agents_{action}_ok", agent=agent.name)
        holder = outcome.holder.name if outcome.holder else "—"
        return self.takeover.text(f"utter_agents_refused_{outcome.reason}", agent=holder)

    async def _on_message(self, message: Message) -> None:
        user = message.from_user
        chat_id = message.chat.id
        if user is None or user.is_bot:
            return
        if not (message.text or message.photo or message.document or message.caption):
            return  # service messages (topic created, member joined...)
        agent = await self._agent(user)
        if agent is None:
            log.info("ignored message from non-agent %s in group %s", user.id, chat_id)
            return
        thread_id = message.message_thread_id if message.is_topic_message else None
        topic = await self._topic_of(chat_id, thread_id)
        text = message.text or ""
        if text.startswith("/"):
            await self._command(message, agent, topic, thread_id)
            return
        if topic is None:
            return  # agents talking among themselves outside escalation topics
        if topic.state != TopicState.CLAIMED:
            key = (
                "utter_agents_claim_first"
                if topic.state == TopicState.QUEUED
                else "utter_agents_topic_closed"
            )
            await self._notice(chat_id, thread_id, self.takeover.text(key), topic)
            return
        if topic.agent_id != agent.id:
            async with self.db.session() as session:
                holder = await session.get(Agent, topic.agent_id) if topic.agent_id else None
            await self._notice(
                chat_id,
                thread_id,
                self.takeover.text("utter_agents_not_yours", agent=holder.name if holder else "—"),
                topic,
            )
            return
        await self._relay_to_customer(message, agent, topic)

    async def _relay_to_customer(self, message: Message, agent: Agent, topic: AgentTopic) -> None:
        if topic.conversation_id is None:
            return
        now = self.clock.now()
        body = message.text or message.caption or ""
        images: tuple[Attachment, ...] = ()
        document = message.document
        if message.photo:
            photo = message.photo[-1]
            images = (Attachment(kind="photo", file_id=photo.file_id, size=photo.file_size),)
        async with self.db.write() as session:
            conversation = await session.get(Conversation, topic.conversation_id)
            if conversation is None or conversation.owner != Owner.AGENT:
                return
            language = conversation.language or self.settings.default_language
            text = self.engine.responses.text(
                "utter_agents_to_customer" if body else "utter_agents_to_customer_media",
                language,
                {"agent": agent.name, "text": body},
            )
            outs = await self.engine.send_text(
                conversation.id, text, sender=f"agent:{agent.id}", images=images, session=session
            )
            await self.takeover.first_response(session, topic, now)
            chat_id = conversation.chat_id
            channel = conversation.channel
        await self.deliver_to_customer(outs)
        if document is not None and channel == "telegram":
            # Documents are copied as they are; the stored row above keeps the record.
            try:
                await self.bot.copy_message(
                    chat_id, from_chat_id=message.chat.id, message_id=message.message_id
                )
            except TelegramError as exc:
                log.warning(
                    "document for conversation %s not copied: %s", topic.conversation_id, exc
                )

    async def _command(
        self, message: Message, agent: Agent, topic: AgentTopic | None, thread_id: int | None
    ) -> None:
        chat_id = message.chat.id
        head, _, arg = (message.text or "").partition(" ")
        name, _, addressee = head[1:].partition("@")
        name = name.lower()
        if addressee and addressee.lower() != (self.bot.username or "").lower():
            return  # a command for another bot in the group
        arg = arg.strip()
        if name in ("queue", "mine"):
            await self._list(chat_id, thread_id, agent, mine=name == "mine")
            return
        if await handle_staff_command(self, name, arg, agent, topic, chat_id, thread_id):
            return  # /contact /callback /category /priority /technician /cancel /close
        if name not in COMMANDS or name == "help":
            await self._notice(chat_id, thread_id, self.takeover.text("utter_agents_help"), topic)
            return
        if topic is None:
            await self._notice(chat_id, thread_id, self.takeover.text("utter_agents_in_topic_only"))
            return
        if name == "note":
            await self._note(topic, agent, arg)
            return
        if name == "assign":
            async with self.db.session() as session:
                target = await find_agent(session, arg)
            if target is None:
                await self._notice(
                    chat_id,
                    thread_id,
                    self.takeover.text("utter_agents_unknown_agent", ref=arg),
                    topic,
                )
                return
            outcome = await self.takeover.assign(topic.id, agent, target)
            if outcome.ok:
                await self._after(outcome)
            await self._notice(
                chat_id, thread_id, self._outcome_text("assign", outcome, target), topic
            )
            return
        outcome = await self._do(name, topic.id, agent, arg)
        if not outcome.ok or name == "claim":
            await self._notice(chat_id, thread_id, self._outcome_text(name, outcome, agent), topic)

    async def _note(self, topic: AgentTopic, agent: Agent, text: str) -> None:
        """An internal note: kept in the audit trail, never sent to the customer."""
        now = self.clock.now()
        async with self.db.write() as session:
            if topic.ticket_id is not None:
                session.add(
                    TicketEvent(
                        ticket_id=topic.ticket_id,
                        actor=f"agent:{agent.id}",
                        action="note",
                        data={"text": text, "topic_id": topic.id},
                        created_at=now,
                    )
                )
            if topic.conversation_id is not None:
                session.add(
                    ConversationEvent(
                        conversation_id=topic.conversation_id,
                        event="agent_note",
                        data={"agent_id": agent.id, "text": text},
                        created_at=now,
                    )
                )

    async def _list(self, chat_id: int, thread_id: int | None, agent: Agent, *, mine: bool) -> None:
        now = self.clock.now()
        if mine:
            items = await self.takeover.topics(states=(TopicState.CLAIMED,), agent_id=agent.id)
        else:
            items = await self.takeover.topics(states=OPEN_STATES)
        items = [i for i in items if i[0].group_chat_id == chat_id] or items
        if not items:
            key = "utter_agents_mine_empty" if mine else "utter_agents_queue_empty"
            await self._notice(chat_id, thread_id, self.takeover.text(key))
            return
        lines = []
        for topic, ticket, holder in items:
            due = (
                ticket.due_first_response
                if ticket and not ticket.first_response_at
                else (ticket.due_resolution if ticket else None)
            )
            lines.append(
                self.takeover.text(
                    "utter_agents_queue_line",
                    name=topic.name,
                    state=f"@utter_agents_state_{topic.state}",
                    agent=holder.name if holder else "—",
                    left=self.takeover.left(due, now),
                )
            )
        key = "utter_agents_mine" if mine else "utter_agents_queue"
        await self._notice(
            chat_id, thread_id, self.takeover.text(key, count=len(items), lines="\n".join(lines))
        )

    # ------------------------------------------------------------------ follow-ups and alerts

    def followup_handlers(self) -> dict[str, Any]:
        """Handlers for :class:`bot.followups.FollowupWorker`: claim reminder, then
        supervisors; a claimed chat nobody answers back to the queue; a reopened ticket's
        topic reopened."""
        handler = ClaimCheck(self)
        return {
            CLAIM_REMINDER: handler,
            CLAIM_SUPERVISOR: handler,
            CLAIM_IDLE: ClaimIdle(self),
            TOPIC_REOPEN: TopicReopen(self.takeover),  # a reopened ticket: its topic again
            **staff_followup_handlers(self),  # an assigned technician told in Telegram
        }

    def attach_followups(self, worker: Any) -> None:
        """Make a :class:`bot.followups.FollowupWorker` (e.g. ``App.followup_worker()``) post
        SLA alerts to the agents' groups and run the claim reminders."""
        from bot.followups.sla import sla_handlers

        worker.handlers.update(sla_handlers(self.alerts(), self.clock))
        worker.handlers.update(self.followup_handlers())

    def alerts(self) -> GroupAlerts:
        """The :class:`bot.followups.sla.Alerts` posting to the agents' groups."""
        return GroupAlerts(self)

    async def mentions(self, session: AsyncSession) -> tuple[str, list[list[Any]]]:
        """Supervisors for a group post: the text (``@username`` or name) and the mentions to
        link (so people without a username are notified too)."""
        people = await supervisors(session)
        text = " ".join(f"@{p.username}" if p.username else p.name for p in people) or "—"
        links = [[p.telegram_user_id, p.name] for p in people if not p.username]
        return text, links


class ClaimCheck:
    """Nobody claimed an escalation in time: a reminder in the topic, later the supervisors."""

    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Post the reminder or the supervisor escalation if the topic is still unclaimed."""
        topic_id = (followup.payload or {}).get("topic_id")
        topic = await session.get(AgentTopic, topic_id) if topic_id else None
        if topic is None or topic.state != TopicState.QUEUED:
            return
        takeover = self.desk.takeover
        now = self.desk.clock.now()
        waiting = max(1, int((now - topic.created_at).total_seconds() // 60))
        if followup.kind == CLAIM_REMINDER:
            text = takeover.text("utter_agents_claim_reminder", minutes=waiting, name=topic.name)
            action = "claim_reminder"
            links: list[list[Any]] = []
        else:
            mentions, links = await self.desk.mentions(session)
            text = takeover.text(
                "utter_agents_claim_supervisor",
                minutes=waiting,
                name=topic.name,
                supervisors=mentions,
            )
            action = "claim_escalated"
        takeover.post(session, topic, PostKind.NOTICE, now=now, text=text, data={"mentions": links})
        if topic.ticket_id is not None:
            session.add(
                TicketEvent(
                    ticket_id=topic.ticket_id,
                    actor="bot",
                    action=action,
                    data={"topic_id": topic.id, "waiting_minutes": waiting},
                    created_at=now,
                )
            )
        self.desk.relay.wake()


class GroupAlerts:
    """SLA breaches, warnings and emergencies, posted in the ticket's topic (created if needed),
    critical ones with the supervisors mentioned."""

    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    async def alert(self, *, level: str, ticket: Ticket, title: str, data: dict[str, Any]) -> None:
        """Post the alert (in the follow-up's transaction when there is one)."""
        session = async_object_session(ticket)
        if session is not None:
            await self._post(session, level, ticket, title)
            return
        async with self.desk.db.write() as own:
            fresh = await own.get(Ticket, ticket.id)
            if fresh is not None:
                await self._post(own, level, fresh, title)

    async def _post(self, session: AsyncSession, level: str, ticket: Ticket, title: str) -> None:
        takeover = self.desk.takeover
        now = self.desk.clock.now()
        topic = (
            await session.execute(
                select(AgentTopic)
                .where(AgentTopic.ticket_id == ticket.id)
                .order_by(AgentTopic.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        critical = level == "critical"
        if topic is None and critical and ticket.conversation_id is not None:
            # Breaches and emergencies get a topic with a card (the bot keeps the chat until
            # someone claims it); warnings and call-back tasks go to the General topic.
            conversation = await session.get(Conversation, ticket.conversation_id)
            if conversation is not None:
                reason = "emergency" if ticket.priority == Priority.URGENT else "sla"
                topic = await takeover.escalate(
                    session,
                    conversation,
                    reason=reason,
                    now=now,
                    ticket=ticket,
                    tell_customer=False,
                    take_over=False,
                )
        group = None
        if topic is None:
            group = self.desk.settings.agents.route(ticket.kind, ticket.category)
            if group is None:
                log.warning("alert for %s (%s) has no agent group to go to", ticket.number, title)
                return
        mentions, links = await self.desk.mentions(session) if critical else ("", [])
        text = takeover.text(
            f"utter_agents_alert_{level}", ticket=ticket.number, title=title, supervisors=mentions
        )
        takeover.post(
            session,
            topic,
            PostKind.NOTICE,
            now=now,
            text=text,
            data={"mentions": links},
            group_chat_id=group.chat_id if group is not None else None,
        )
        self.desk.relay.wake()


def attach_agents(bot: Any, app: Any) -> AgentDesk | None:
    """Wire the takeover into a :class:`bot.channels.telegram.TelegramBot` built on ``app``
    (:class:`bot.app.App`); ``None`` when no agent group is configured. Call ``start()``."""
    settings: Settings = app.settings
    if not settings.agents.all_groups():
        return None
    desk = AgentDesk(settings, app.db, app.engine, app.clock, bot.bot)
    desk.install(bot.channel)
    return desk
