"""Delivering to customers what the agents' side stored for them.

Agents' answers and the takeover's notices ("an agent has your request") are stored in the
engine's outbox inside the transaction that caused them. A group update (an agent's answer, a
claim) delivers them right after its transaction; notices written inside a customer's turn are
remembered and delivered by :meth:`CustomerPump.pump_once` once that turn has committed.
Only Telegram chats are delivered here; other channels send their own outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import OutboundMessage
from bot.store.db import Database, log_failure
from bot.store.models import Conversation
from bot.store.models import Message as StoredMessage

log = logging.getLogger(__name__)

# Rounds a remembered message may stay invisible (its turn not committed yet) before we stop.
_MAX_ROUNDS = 30


class CustomerPump:
    """Stored customer messages to deliver through the Telegram channel."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.channel: Any = None
        self.pending: dict[int, int] = {}  # stored message id -> rounds not visible

    async def remember(self, session: AsyncSession, conversation_id: int, now: datetime) -> None:
        """Customer messages an escalation stored in this turn (not part of its replies)."""
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
            self.pending[message_id] = 0

    async def deliver(self, outs: Sequence[OutboundMessage]) -> None:
        """Deliver messages stored for a customer (Telegram chats only; others keep them)."""
        if not outs or self.channel is None:
            return
        for out in outs:
            if out.id is not None:
                self.pending.pop(out.id, None)
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
        if not self.pending or self.channel is None:
            return 0
        ids = list(self.pending)
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
            self.pending.pop(message.id, None)
            if message.sent_at is None and channel == "telegram":
                outs.append(OutboundMessage.from_dict(message.data, id=message.id, chat_id=chat_id))
        for missing in set(ids) - seen:  # not committed yet, or rolled back
            self.pending[missing] += 1
            if self.pending[missing] > _MAX_ROUNDS:
                del self.pending[missing]
        if outs:
            try:
                await self.channel.deliver(outs)
            except Exception as exc:
                log.warning("customer notices deferred: %s", exc)
        return len(outs)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Pump every ``agents.relay_poll`` until ``stop`` is set."""
        interval = self.settings.agents.relay_poll.total_seconds()
        while not stop.is_set():
            try:
                await self.pump_once()
            except Exception as exc:
                log_failure(log, exc, "customer notice pump failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
