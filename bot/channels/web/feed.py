"""A visitor's conversation as a stream: what was said (both ways) after a message id, with
Kefu's undelivered messages claimed and marked sent as they go out.

One path delivers every outbound message of channel ``web``: a turn's replies, an agent's or
the console's reply, a survey. Each is an outbox row; the stream claims it (so two tabs or two
processes never both deliver it), writes it, and marks it sent. A reconnecting page asks for
what came after the last id it showed, so history and delivery are the same query.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select

from bot.messages import OutboundMessage
from bot.store.db import Database
from bot.store.models import Conversation, Message

CHANNEL = "web"
HISTORY = 100  # messages shown when a page opens


class Outbox(Protocol):
    """What the feed needs of the engine's outbox."""

    async def claim(self, ids: list[int]) -> tuple[str, set[int]]: ...

    async def release(self, token: str, ids: list[int]) -> None: ...

    async def mark_sent(self, outbound_id: int, channel_message_id: str | None = None) -> None: ...


@dataclass(frozen=True)
class Item:
    """One message as the chat box shows it."""

    id: int
    data: dict[str, Any]
    claim: str | None = None  # the token, when an undelivered outbound message is held here


def show(row: Message) -> dict[str, Any]:
    """What the browser gets for a stored message: text and buttons, never file paths."""
    if row.direction == "in":
        photos = sum(1 for a in (row.data or {}).get("attachments", []) if a.get("kind") == "photo")
        return {"id": row.id, "from": "visitor", "text": row.text, "photos": photos}
    out = OutboundMessage.from_dict(row.data or {"text": row.text})
    return {
        "id": row.id,
        "from": "agent" if (row.sender or "").startswith(("agent:", "staff:")) else "kefu",
        "text": out.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in out.buttons],
    }


class Feed:
    """Reads and delivers visitors' conversations."""

    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox
        self._wakeups: OrderedDict[str, asyncio.Event] = OrderedDict()

    def wake(self, visitor: str) -> None:
        """Something new for ``visitor`` in this process: streams look now, not at the poll."""
        event = self._wakeups.pop(visitor, None)
        if event is not None:
            event.set()

    async def wait(self, visitor: str, timeout: float) -> None:
        """Until :meth:`wake` or ``timeout`` seconds (changes from other processes)."""
        event = self._wakeups.get(visitor)
        if event is None:
            event = self._wakeups[visitor] = asyncio.Event()
            while len(self._wakeups) > 10_000:
                self._wakeups.popitem(last=False)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def conversation(self, visitor: str) -> tuple[int, str | None] | None:
        """The visitor's conversation: its id and language (None before the first message)."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(Conversation.id, Conversation.language).where(
                        Conversation.channel == CHANNEL, Conversation.chat_id == visitor
                    )
                )
            ).one_or_none()
        return None if row is None else (row[0], row[1])

    async def after(self, visitor: str, last_id: int) -> tuple[list[Item], str | None]:
        """The visitor's messages after ``last_id`` (the latest :data:`HISTORY` when 0), in
        order, up to the first outbound one somebody else is delivering right now; the
        undelivered ones among them are claimed here and must be passed to :meth:`delivered`
        or :meth:`give_back`. Also the conversation's language (it follows the visitor's)."""
        found = await self.conversation(visitor)
        if found is None:
            return [], None
        conversation, language = found
        query = select(Message).where(Message.conversation_id == conversation)
        async with self.db.session() as session:
            if last_id <= 0:
                rows = list(await session.scalars(query.order_by(Message.id.desc()).limit(HISTORY)))
                rows.reverse()
            else:
                rows = list(
                    await session.scalars(
                        query.where(Message.id > last_id).order_by(Message.id).limit(HISTORY)
                    )
                )
        unsent = [r.id for r in rows if r.direction == "out" and r.sent_at is None]
        token, mine = await self.outbox.claim(unsent) if unsent else ("", set())
        items: list[Item] = []
        for row in rows:
            if row.direction == "out" and row.sent_at is None and row.id not in mine:
                break  # another sender holds it: keep the order, look again next time
            items.append(Item(row.id, show(row), token if row.id in mine else None))
        shown = {item.id for item in items}
        await self.outbox.release(token, [i for i in mine if i not in shown])
        return items, language

    async def delivered(self, item: Item) -> None:
        """Mark ``item`` sent if this stream held it (it was written out)."""
        if item.claim is not None:
            await self.outbox.mark_sent(item.id)

    async def give_back(self, items: list[Item]) -> None:
        """Release what this stream held and did not write (the page went away), so another
        stream need not wait for the lease to run out."""
        for item in items:
            if item.claim is not None:
                await self.outbox.release(item.claim, [item.id])
