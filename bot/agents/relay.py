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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from telegram import Bot

from bot.agents.group_send import Post, PostSender, mention_entities
from bot.agents.models import AgentTopic, GroupPost, PostKind
from bot.agents.service import Takeover
from bot.agents.topics import StopGroup, close_topic, refresh_card, thread_missing
from bot.clock import Clock
from bot.store.db import Database, log_failure

__all__ = [
    "GroupRelay",
    "close_topic",
    "mention_entities",
    "refresh_card",
    "thread_missing",
]

log = logging.getLogger(__name__)

WINDOW = timedelta(seconds=60)
MAX_POST_CHARS = 3800  # Telegram allows 4096; leave room for the header
_LOCK_KEY = 0x6B6566750006  # "kefu" + issue 6: one relaying process at a time on PostgreSQL
_RETRY_SOON = timedelta(seconds=2)
_MAX_BACKOFF = timedelta(minutes=5)


class GroupRelay(PostSender):
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
    ) -> tuple[list[Post], datetime | None]:
        """Posts ready now (in order per topic) and when a held one becomes ready."""
        queues: dict[Any, list[GroupPost]] = {}
        for row in rows:
            key = row.topic_id if row.topic_id is not None else ("thread", row.thread_id)
            queues.setdefault(key, []).append(row)
        posts: list[Post] = []
        held: datetime | None = None
        for key, queue in queues.items():
            topic = topics.get(key) if isinstance(key, int) else None
            i = 0
            while i < len(queue):
                row = queue[i]
                post = Post(topic, [row])
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
            except StopGroup as exc:
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
