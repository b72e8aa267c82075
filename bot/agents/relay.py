"""Posting to the agents' groups under Telegram's limit of about 20 messages a minute per group.

Everything Kefu says in a group is a :class:`~bot.agents.models.GroupPost` row first (written in
the transaction that caused it). :class:`GroupRelay` sends the rows in order per topic:

* the budget of a group is ``group_per_minute`` minus the posts it sent in the last 60 s,
  counted in the database, so several processes share one budget (one relays at a time: an
  advisory lock on PostgreSQL);
* a customer's texts are held ``coalesce_window`` and then posted as one message together with
  every later text of the same topic still waiting (under a backlog, more merge); nothing is
  dropped, and a post later than ``show_delay_after`` says how late it is;
* an emergency's topic goes before the backlog of the others;
* topics are created when their first post goes out; "message thread not found" (someone
  deleted the topic) recreates the topic, reposts the card and updates the mapping.

Time comes from the injected :class:`~bot.clock.Clock`, so tests replay minutes of traffic
without waiting for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from telegram import Bot, MessageEntity, User
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.agents.cards import render_card
from bot.agents.models import AgentTopic, GroupPost, PostKind, TopicState
from bot.agents.service import Takeover
from bot.channels.telegram.request import Unconfirmed
from bot.clock import Clock
from bot.store.db import Database, log_failure

log = logging.getLogger(__name__)

WINDOW = timedelta(seconds=60)
MAX_POST_CHARS = 3800  # Telegram allows 4096; leave room for the header
_LOCK_KEY = 0x6B6566750006  # "kefu" + issue 6: one relaying process at a time on PostgreSQL
_RETRY_SOON = timedelta(seconds=2)
_MAX_BACKOFF = timedelta(minutes=5)


def thread_missing(exc: TelegramError) -> bool:
    """Whether Telegram says the topic is gone."""
    message = str(exc).lower()
    return "thread not found" in message or "topic_deleted" in message or "topic deleted" in message


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
class _Post:
    topic: AgentTopic | None
    rows: list[GroupPost] = field(default_factory=list)

    @property
    def first(self) -> GroupPost:
        return self.rows[0]


class _StopGroup(Exception):
    """Telegram cannot take more for this group now (429, network, forbidden)."""


class GroupRelay:
    """Sends the group outbox; call :meth:`run_once` (tests) or :meth:`run_forever`."""

    def __init__(self, db: Database, bot: Bot, takeover: Takeover, clock: Clock) -> None:
        cfg = takeover.settings.agents
        self.db = db
        self.bot = bot
        self.takeover = takeover
        self.clock = clock
        self.per_minute = cfg.group_per_minute
        self.coalesce_window = cfg.coalesce_window
        self.show_delay_after = cfg.show_delay_after
        self.poll = cfg.relay_poll
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._backoff: dict[int, tuple[int, datetime]] = {}

    def wake(self) -> None:
        """New rows may be waiting: run a round soon (callers are usually still inside the
        transaction that wrote them, so the round waits a moment for the commit)."""
        try:
            asyncio.get_running_loop().call_later(0.05, self._wake.set)
        except RuntimeError:
            self._wake.set()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; errors are logged and retried."""
        while not stop.is_set():
            self._wake.clear()  # rows written while this round runs wake the next one
            try:
                next_at = await self.run_once()
            except Exception as exc:
                log_failure(log, exc, "group relay round failed")
                next_at = self.clock.now() + _RETRY_SOON
            wait = self.poll.total_seconds()
            if next_at is not None:
                wait = min(wait, max((next_at - self.clock.now()).total_seconds(), 0.05))
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, stopper):
                task.cancel()

    async def run_once(self) -> datetime | None:
        """Send what the budgets allow now; return when something more can be sent."""
        async with self._lock, self._leader() as leading:
            if not leading:
                return self.clock.now() + self.poll
            now = self.clock.now()
            async with self.db.session() as session:
                rows = list(
                    (
                        await session.execute(
                            select(GroupPost)
                            .where(GroupPost.sent_at.is_(None))
                            .order_by(GroupPost.id)
                            .limit(2000)
                        )
                    ).scalars()
                )
                topic_ids = {r.topic_id for r in rows if r.topic_id is not None}
                topics = {
                    t.id: t
                    for t in (
                        await session.execute(
                            select(AgentTopic).where(AgentTopic.id.in_(topic_ids))
                        )
                    ).scalars()
                }
            groups: dict[int, list[GroupPost]] = {}
            for row in rows:
                groups.setdefault(row.group_chat_id, []).append(row)
            wake_at: list[datetime] = []
            for chat_id, group_rows in groups.items():
                later = await self._relay_group(chat_id, group_rows, topics, now)
                if later is not None:
                    wake_at.append(later)
            return min(wake_at) if wake_at else None

    @contextlib.asynccontextmanager
    async def _leader(self) -> AsyncIterator[bool]:
        if self.db.is_sqlite:
            yield True
            return
        async with self.db.engine.connect() as conn:
            got = bool(
                (
                    await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY})
                ).scalar()
            )
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                    await conn.commit()

    # ------------------------------------------------------------------ one group

    async def _sent_in_window(self, chat_id: int, now: datetime) -> tuple[int, datetime | None]:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(
                        func.count(func.distinct(GroupPost.post_id)), func.min(GroupPost.sent_at)
                    ).where(
                        GroupPost.group_chat_id == chat_id,
                        GroupPost.sent_at > now - WINDOW,
                        GroupPost.post_id.is_not(None),
                    )
                )
            ).one()
        return int(row[0] or 0), row[1]

    def _plan(
        self, rows: list[GroupPost], topics: dict[int, AgentTopic], now: datetime
    ) -> tuple[list[_Post], datetime | None]:
        """Posts ready now (in order per topic) and when a held one becomes ready."""
        queues: dict[Any, list[GroupPost]] = {}
        for row in rows:
            key = row.topic_id if row.topic_id is not None else ("thread", row.thread_id)
            queues.setdefault(key, []).append(row)
        posts: list[_Post] = []
        held: datetime | None = None
        for key, queue in queues.items():
            topic = topics.get(key) if isinstance(key, int) else None
            i = 0
            while i < len(queue):
                row = queue[i]
                post = _Post(topic, [row])
                i += 1
                if row.kind == PostKind.RELAY_TEXT:
                    ready_at = row.created_at + self.coalesce_window
                    if ready_at > now:
                        held = ready_at if held is None else min(held, ready_at)
                        break
                    size = len(row.text)
                    while (
                        i < len(queue)
                        and queue[i].kind == PostKind.RELAY_TEXT
                        and queue[i].data.get("sender") == row.data.get("sender")
                        and size + len(queue[i].text) < MAX_POST_CHARS
                    ):
                        size += len(queue[i].text)
                        post.rows.append(queue[i])
                        i += 1
                posts.append(post)
        # Emergencies first when the budget is short; otherwise oldest first. Each topic keeps
        # its own order (its posts share the same urgency).
        posts.sort(key=lambda p: (not (p.topic is not None and p.topic.urgent), p.first.id))
        return posts, held

    async def _relay_group(
        self, chat_id: int, rows: list[GroupPost], topics: dict[int, AgentTopic], now: datetime
    ) -> datetime | None:
        failures, until = self._backoff.get(chat_id, (0, now))
        if now < until:
            return until
        posts, held = self._plan(rows, topics, now)
        sent, oldest = await self._sent_in_window(chat_id, now)
        budget = self.per_minute - sent
        wake: list[datetime] = [held] if held is not None else []
        for post in posts:
            if budget <= 0:
                base = oldest or now
                wake.append(max(base + WINDOW, now + timedelta(milliseconds=100)))
                break
            try:
                budget -= await self._send(chat_id, post, now, budget)
            except _StopGroup as exc:
                # Back off (2 s, 4 s, ... 5 min) so a group the bot cannot post to is not hammered.
                failures += 1
                delay = min(_RETRY_SOON * 2 ** (failures - 1), _MAX_BACKOFF)
                self._backoff[chat_id] = (failures, now + delay)
                log.warning("group %s: %s; retrying in %ss", chat_id, exc, delay.total_seconds())
                wake.append(now + delay)
                break
            self._backoff.pop(chat_id, None)
            if oldest is None:
                oldest = now
        return min(wake) if wake else None

    # ------------------------------------------------------------------ sending

    async def _send(self, chat_id: int, post: _Post, now: datetime, budget: int) -> int:
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

    async def _deliver(self, chat_id: int, post: _Post, now: datetime) -> int | None:
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
            raise _StopGroup(f"forbidden: {exc}") from exc
        except Unconfirmed:
            # Sent, answer lost: most likely posted. Recorded as posted (id unknown) rather than
            # posted twice; the rate limiter logged and counted it.
            return None
        except (RetryAfter, NetworkError) as exc:
            if isinstance(exc, BadRequest):
                raise
            raise _StopGroup(str(exc)) from exc

    async def _deliver_copy_as_text(self, chat_id: int, post: _Post, error: str) -> int | None:
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

    def _header(self, post: _Post, now: datetime) -> str:
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
        self, post: _Post, now: datetime, message_id: int | None, *, error: str | None = None
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
            raise _StopGroup(f"cannot create topics: {exc}") from exc
        except BadRequest as exc:
            raise _StopGroup(f"cannot create topic: {exc}") from exc
        except (RetryAfter, NetworkError) as exc:
            raise _StopGroup(str(exc)) from exc
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
                raise _StopGroup(str(exc)) from exc
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

    async def _repost_card(self, chat_id: int, topic: AgentTopic, now: datetime) -> int:
        async with self.db.write() as session:
            row = self.takeover.post(session, topic, PostKind.CARD, now=now)
            await session.flush()
            card = _Post(topic, [row])
        message_id = await self._deliver(chat_id, card, now)
        await self._mark(card, now, message_id)
        if message_id is not None:
            await self._set_card(topic, message_id)
        return 1


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
