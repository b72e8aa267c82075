"""Sending one post of the group outbox: a card, a customer's text (several coalesced under a
header saying who and when, and how late), a customer's photo copied from the private chat, or
a notice with its supervisors mentioned; a topic that is gone is recreated on the way."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from telegram import MessageEntity, User
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.agents.cards import render_card
from bot.agents.models import AgentTopic, GroupPost, PostKind
from bot.agents.topics import StopGroup, TopicKeeper, thread_missing
from bot.channels.telegram.request import Unconfirmed
from bot.clock import Clock

log = logging.getLogger(__name__)


def mention_entities(body: str, mentions: list[list[Any]]) -> list[MessageEntity] | None:
    """Link each ``[telegram_user_id, name]`` to its first occurrence in ``body``: people
    without a username are notified all the same."""
    entities = []
    for user_id, name in mentions:
        at = body.find(str(name))
        if at < 0 or not name:
            continue
        offset = len(body[:at].encode("utf-16-le")) // 2
        length = len(str(name).encode("utf-16-le")) // 2
        entities.append(
            MessageEntity(
                MessageEntity.TEXT_MENTION,
                offset,
                length,
                user=User(int(user_id), str(name), is_bot=False),
            )
        )
    return entities or None


@dataclass
class Post:
    topic: AgentTopic | None
    rows: list[GroupPost] = field(default_factory=list)

    @property
    def first(self) -> GroupPost:
        return self.rows[0]


class PostSender(TopicKeeper):
    """Sends posts; :class:`~bot.agents.relay.GroupRelay` decides which and when."""

    clock: Clock
    show_delay_after: timedelta

    async def _send(self, chat_id: int, post: Post, now: datetime, budget: int) -> int:
        """Send one post if the budget allows; returns how many messages it used (creating a
        topic counts as one: Telegram posts a service message for it)."""
        used = 0
        topic = post.topic
        if topic is not None and topic.thread_id is None:
            used += await self._create_topic(topic, now)
            if budget - used <= 0:
                return used
        elif topic is not None and (topic.data or {}).get("reopen"):
            await self._reopen_topic(topic)
        try:
            message_id = await self._deliver(chat_id, post, now)
        except BadRequest as exc:
            if topic is not None and thread_missing(exc):
                log.warning(
                    "topic %s of escalation %s is gone: recreating it", topic.thread_id, topic.id
                )
                used += await self._create_topic(topic, now, recreated=True)
                if post.first.kind != PostKind.CARD and budget - used > 0:
                    used += await self._repost_card(chat_id, topic, now)
                if budget - used <= 0:
                    return used
                message_id = await self._deliver(chat_id, post, now)
            elif post.first.kind == PostKind.RELAY_COPY:
                log.warning("could not copy message into group %s: %s", chat_id, exc)
                message_id = await self._deliver_copy_as_text(chat_id, post, str(exc))
            else:
                log.error("Telegram refused a post to group %s: %s", chat_id, exc)
                await self._mark(post, now, None, error=str(exc))
                return used
        await self._mark(post, now, message_id)
        if post.first.kind == PostKind.CARD and topic is not None and message_id is not None:
            await self._set_card(topic, message_id)
        return used + 1

    async def _deliver(self, chat_id: int, post: Post, now: datetime) -> int | None:
        thread = post.topic.thread_id if post.topic is not None else post.first.thread_id
        kind = post.first.kind
        try:
            if kind == PostKind.CARD:
                assert post.topic is not None
                async with self.db.session() as session:
                    topic = await session.get(AgentTopic, post.topic.id)
                    assert topic is not None
                    body, markup = await render_card(self.takeover, session, topic)
                sent = await self.bot.send_message(
                    chat_id, body, message_thread_id=thread, reply_markup=markup
                )
                return sent.message_id
            if kind == PostKind.RELAY_COPY:
                data = post.first.data
                caption = self._header(post, now)
                if post.first.text:
                    caption += "\n" + post.first.text
                copied = await self.bot.copy_message(
                    chat_id,
                    from_chat_id=data["from_chat_id"],
                    message_id=int(data["message_id"]),
                    message_thread_id=thread,
                    caption=caption[:1024],
                )
                return copied.message_id
            if kind == PostKind.RELAY_TEXT:
                body = self._header(post, now) + "\n" + "\n".join(r.text for r in post.rows)
            else:
                body = post.first.text
            sent = await self.bot.send_message(
                chat_id,
                body[:4096],
                message_thread_id=thread,
                entities=mention_entities(body[:4096], post.first.data.get("mentions") or []),
            )
            return sent.message_id
        except Forbidden as exc:
            raise StopGroup(f"forbidden: {exc}") from exc
        except Unconfirmed:
            # Sent, answer lost: most likely posted. Recorded as posted (id unknown) rather than
            # posted twice; the rate limiter logged and counted it.
            return None
        except (RetryAfter, NetworkError) as exc:
            if isinstance(exc, BadRequest):
                raise
            raise StopGroup(str(exc)) from exc

    async def _deliver_copy_as_text(self, chat_id: int, post: Post, error: str) -> int | None:
        thread = post.topic.thread_id if post.topic is not None else post.first.thread_id
        body = self.takeover.text(
            "utter_agents_copy_failed",
            sender=post.first.data.get("sender", ""),
            caption=post.first.text,
        )
        try:
            sent = await self.bot.send_message(chat_id, body, message_thread_id=thread)
        except BadRequest:
            return None
        return sent.message_id

    def _header(self, post: Post, now: datetime) -> str:
        sender = str(post.first.data.get("sender") or "")
        first, last = post.first.created_at, post.rows[-1].created_at
        tz = self.clock.tz
        if len(post.rows) > 1:
            header = self.takeover.text(
                "utter_agents_relay_many",
                sender=sender,
                count=len(post.rows),
                start=f"{first.astimezone(tz):%H:%M:%S}",
                end=f"{last.astimezone(tz):%H:%M:%S}",
            )
        else:
            header = self.takeover.text(
                "utter_agents_relay_one", sender=sender, time=f"{first.astimezone(tz):%H:%M:%S}"
            )
        late = now - first
        if late > self.show_delay_after:
            minutes = max(1, round(late.total_seconds() / 60))
            header += "\n" + self.takeover.text("utter_agents_relay_delayed", minutes=minutes)
        return header

    async def _mark(
        self, post: Post, now: datetime, message_id: int | None, *, error: str | None = None
    ) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(GroupPost)
                .where(GroupPost.id.in_([r.id for r in post.rows]))
                .values(
                    sent_at=now,
                    post_id=post.first.id if message_id is not None else None,
                    channel_message_id=message_id,
                    attempts=GroupPost.attempts + 1,
                    last_error=error,
                )
            )

    async def _repost_card(self, chat_id: int, topic: AgentTopic, now: datetime) -> int:
        async with self.db.write() as session:
            row = self.takeover.post(session, topic, PostKind.CARD, now=now)
            await session.flush()
            card = Post(topic, [row])
        message_id = await self._deliver(chat_id, card, now)
        await self._mark(card, now, message_id)
        if message_id is not None:
            await self._set_card(topic, message_id)
        return 1
