"""The forum topics of escalations in Telegram: created when their first post goes out,
reopened (and renamed) when the escalation comes back, recreated when someone deleted them,
renamed ✅ and closed when resolved, and the card at their top kept up to date."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.agents.cards import render_card
from bot.agents.models import AgentTopic, PostKind, TopicState
from bot.agents.service import Takeover
from bot.store.db import Database

log = logging.getLogger(__name__)


def thread_missing(exc: TelegramError) -> bool:
    """Whether Telegram says the topic is gone."""
    message = str(exc).lower()
    return "thread not found" in message or "topic_deleted" in message or "topic deleted" in message


class StopGroup(Exception):
    """Telegram cannot take more for this group now (429, network, forbidden)."""


class TopicKeeper:
    """Creating and reopening topics for :class:`~bot.agents.relay.GroupRelay`."""

    db: Database
    bot: Bot
    takeover: Takeover

    async def _set_card(self, topic: AgentTopic, message_id: int) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(AgentTopic)
                .where(AgentTopic.id == topic.id)
                .values(card_message_id=message_id)
            )
        topic.card_message_id = message_id

    async def _create_topic(
        self, topic: AgentTopic, now: datetime, *, recreated: bool = False
    ) -> int:
        """Create the topic in Telegram and map it; returns the messages used (1)."""
        try:
            created = await self.bot.create_forum_topic(topic.group_chat_id, topic.name)
        except Forbidden as exc:
            raise StopGroup(f"cannot create topics: {exc}") from exc
        except BadRequest as exc:
            raise StopGroup(f"cannot create topic: {exc}") from exc
        except (RetryAfter, NetworkError) as exc:
            raise StopGroup(str(exc)) from exc
        data = dict(topic.data or {})
        data.pop("reopen", None)
        if recreated:
            data["recreated"] = int(data.get("recreated", 0)) + 1
            data.setdefault("old_threads", []).append(topic.thread_id)
        async with self.db.write() as session:
            await session.execute(
                update(AgentTopic)
                .where(AgentTopic.id == topic.id)
                .values(
                    thread_id=created.message_thread_id,
                    card_message_id=None,
                    topic_closed=False,
                    data=data,
                )
            )
            # Counted in the group's budget like any post.
            row = self.takeover.post(session, topic, PostKind.TOPIC, now=now, text=topic.name)
            row.sent_at = now
            row.attempts = 1
            await session.flush()
            row.post_id = row.id
        topic.thread_id = created.message_thread_id
        topic.card_message_id = None
        topic.topic_closed = False
        topic.data = data
        return 1

    async def _reopen_topic(self, topic: AgentTopic) -> None:
        assert topic.thread_id is not None
        for call in (
            lambda: self.bot.reopen_forum_topic(topic.group_chat_id, topic.thread_id),
            lambda: self.bot.edit_forum_topic(
                topic.group_chat_id, topic.thread_id, name=topic.name
            ),
        ):
            try:
                await call()
            except BadRequest as exc:  # not closed / not modified / gone (recreated on send)
                log.debug("reopening topic %s: %s", topic.thread_id, exc)
            except (RetryAfter, NetworkError, Forbidden) as exc:
                raise StopGroup(str(exc)) from exc
        data = dict(topic.data or {})
        data.pop("reopen", None)
        async with self.db.write() as session:
            await session.execute(
                update(AgentTopic)
                .where(AgentTopic.id == topic.id)
                .values(data=data, topic_closed=False)
            )
        topic.data = data
        topic.topic_closed = False


async def refresh_card(db: Database, bot: Bot, takeover: Takeover, topic_id: int) -> None:
    """Edit a topic's card to its current state (after claim, release, resolve)."""
    async with db.session() as session:
        topic = await session.get(AgentTopic, topic_id)
        if topic is None or topic.card_message_id is None:
            return
        body, markup = await render_card(takeover, session, topic)
    try:
        await bot.edit_message_text(
            body, chat_id=topic.group_chat_id, message_id=topic.card_message_id, reply_markup=markup
        )
    except TelegramError as exc:
        log.debug("card of escalation %s not edited: %s", topic_id, exc)


async def close_topic(db: Database, bot: Bot, takeover: Takeover, topic_id: int) -> None:
    """Rename a resolved escalation's topic (✅) and close it."""
    async with db.session() as session:
        topic = await session.get(AgentTopic, topic_id)
    if topic is None or topic.thread_id is None:
        return
    name = ("✅ " + topic.name.removeprefix("🚨 "))[:128]
    try:
        await bot.edit_forum_topic(topic.group_chat_id, topic.thread_id, name=name)
        await bot.close_forum_topic(topic.group_chat_id, topic.thread_id)
    except TelegramError as exc:
        log.info("topic %s of escalation %s not closed: %s", topic.thread_id, topic_id, exc)
        return
    async with db.write() as session:
        await session.execute(
            update(AgentTopic)
            .where(AgentTopic.id == topic_id, AgentTopic.state == TopicState.RESOLVED)
            .values(topic_closed=True)
        )
