"""Updates from the agents' groups: card buttons, commands and the agents' answers.

Anyone not registered as an agent is ignored (and logged). An agent's message in a topic they
hold is relayed to the customer under their name; commands go to
:mod:`bot.agents.group_commands`, whose handlers are listed in one place
(:func:`bot.agents.telegram.command_handlers`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from telegram import CallbackQuery, Message, Update, User
from telegram.error import TelegramError

from bot.agents.cards import parse_callback
from bot.agents.group_commands import run_command
from bot.agents.models import Agent, AgentTopic, PostKind, TopicState
from bot.agents.registry import by_telegram_id
from bot.agents.service import Outcome
from bot.agents.topics import close_topic, refresh_card
from bot.channels.telegram.channel import RETRYABLE, RetryLater
from bot.messages import Attachment
from bot.store.db import is_outage
from bot.store.models import Conversation, Owner

if TYPE_CHECKING:
    from bot.agents.desk import AgentDesk

log = logging.getLogger(__name__)


class GroupUpdates:
    """The channel hook for the agents' groups, and the transitions it triggers."""

    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    async def on_update(self, update: Update, channel: Any = None) -> bool:
        """The channel hook: ``True`` for every update from an agents' group (handled here)."""
        chat = update.effective_chat
        if chat is None or chat.id not in self.desk.group_ids:
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

    async def agent(self, user: User | None) -> Agent | None:
        """The registered agent behind ``user`` (their username kept up to date), if any."""
        if user is None or user.is_bot:
            return None
        db = self.desk.db
        async with db.session() as session:
            agent = await by_telegram_id(session, user.id)
        if agent is not None and user.username and agent.username != user.username:
            async with db.write() as session:
                row = await session.get(Agent, agent.id)
                if row is not None:
                    row.username = user.username
            agent.username = user.username
        return agent

    async def _topic_of(self, chat_id: int, thread_id: int | None) -> AgentTopic | None:
        if thread_id is None:
            return None
        async with self.desk.db.session() as session:
            stmt = (
                select(AgentTopic)
                .where(AgentTopic.group_chat_id == chat_id, AgentTopic.thread_id == thread_id)
                .order_by(AgentTopic.id.desc())
                .limit(1)
            )
            return (await session.execute(stmt)).scalar_one_or_none()

    async def notice(
        self, chat_id: int, thread_id: int | None, text: str, topic: AgentTopic | None = None
    ) -> None:
        """Say ``text`` in the group (in ``topic``, else in ``thread_id``), through the outbox."""
        desk = self.desk
        async with desk.db.write() as session:
            desk.takeover.post(
                session,
                topic,
                PostKind.NOTICE,
                now=desk.clock.now(),
                text=text,
                group_chat_id=chat_id,
                thread_id=thread_id,
            )
        desk.relay.wake()

    async def _on_button(self, query: CallbackQuery) -> None:
        agent = await self.agent(query.from_user)
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
        outcome = await self.do(action, topic_id, agent, "")
        await self._answer(query, self.outcome_text(action, outcome, agent))

    async def _answer(self, query: CallbackQuery, text: str | None = None) -> None:
        try:
            await self.desk.bot.answer_callback_query(query.id, text=text or None)
        except TelegramError as exc:
            log.debug("answerCallbackQuery: %s", exc)

    async def do(self, action: str, topic_id: int, agent: Agent, arg: str) -> Outcome:
        """Claim, resolve or release (button or command); what follows a success included."""
        takeover = self.desk.takeover
        if action == "claim":
            outcome = await takeover.claim(topic_id, agent)
        elif action == "resolve":
            outcome = await takeover.resolve(topic_id, agent, arg)
        else:
            outcome = await takeover.release(topic_id, agent, arg)
        if outcome.ok:
            await self.after(outcome)
        return outcome

    async def after(self, outcome: Outcome) -> None:
        """After a transition: tell the customer, update the card, close the topic if done."""
        desk = self.desk
        await desk.customers.deliver(outcome.customer)
        if outcome.topic is not None:
            await refresh_card(desk.db, desk.bot, desk.takeover, outcome.topic.id)
            if "close" in outcome.topic_ops:
                await close_topic(desk.db, desk.bot, desk.takeover, outcome.topic.id)
        desk.relay.wake()

    def outcome_text(self, action: str, outcome: Outcome, agent: Agent) -> str:
        """What the group is told: done, or why not (taken, closed, not yours)."""
        takeover = self.desk.takeover
        if outcome.ok:
            return takeover.text(f"utter_agents_{action}_ok", agent=agent.name)
        holder = outcome.holder.name if outcome.holder else "—"
        return takeover.text(f"utter_agents_refused_{outcome.reason}", agent=holder)

    async def _on_message(self, message: Message) -> None:
        user = message.from_user
        chat_id = message.chat.id
        if user is None or user.is_bot:
            return
        if not (message.text or message.photo or message.document or message.caption):
            return  # service messages (topic created, member joined...)
        agent = await self.agent(user)
        if agent is None:
            log.info("ignored message from non-agent %s in group %s", user.id, chat_id)
            return
        thread_id = message.message_thread_id if message.is_topic_message else None
        topic = await self._topic_of(chat_id, thread_id)
        if (message.text or "").startswith("/"):
            await run_command(self, message, agent, topic, thread_id)
            return
        if topic is None:
            return  # agents talking among themselves outside escalation topics
        takeover = self.desk.takeover
        if topic.state != TopicState.CLAIMED:
            key = (
                "utter_agents_claim_first"
                if topic.state == TopicState.QUEUED
                else "utter_agents_topic_closed"
            )
            await self.notice(chat_id, thread_id, takeover.text(key), topic)
            return
        if topic.agent_id != agent.id:
            async with self.desk.db.session() as session:
                holder = await session.get(Agent, topic.agent_id) if topic.agent_id else None
            text = takeover.text("utter_agents_not_yours", agent=holder.name if holder else "—")
            await self.notice(chat_id, thread_id, text, topic)
            return
        await self._relay_to_customer(message, agent, topic)

    async def _relay_to_customer(self, message: Message, agent: Agent, topic: AgentTopic) -> None:
        if topic.conversation_id is None:
            return
        desk = self.desk
        now = desk.clock.now()
        body = message.text or message.caption or ""
        images: tuple[Attachment, ...] = ()
        document = message.document
        if message.photo:
            photo = message.photo[-1]
            images = (Attachment(kind="photo", file_id=photo.file_id, size=photo.file_size),)
        async with desk.db.write() as session:
            conversation = await session.get(Conversation, topic.conversation_id)
            if conversation is None or conversation.owner != Owner.AGENT:
                return
            language = conversation.language or desk.settings.default_language
            text = desk.engine.responses.text(
                "utter_agents_to_customer" if body else "utter_agents_to_customer_media",
                language,
                {"agent": agent.name, "text": body},
            )
            outs = await desk.engine.send_text(
                conversation.id, text, sender=f"agent:{agent.id}", images=images, session=session
            )
            await desk.takeover.first_response(session, topic, now)
            chat_id = conversation.chat_id
            channel = conversation.channel
        await desk.customers.deliver(outs)
        if document is not None and channel == "telegram":
            # Documents are copied as they are; the stored row above keeps the record.
            try:
                await desk.bot.copy_message(
                    chat_id, from_chat_id=message.chat.id, message_id=message.message_id
                )
            except TelegramError as exc:
                log.warning(
                    "document for conversation %s not copied: %s", topic.conversation_id, exc
                )
