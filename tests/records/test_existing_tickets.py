"""Cancelling one's own ticket in conversation (#13 item 7): asked first, audited (who, why),
and its follow-ups stop; on SQLite and PostgreSQL through the real engine, NLU and store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.followups.models import Followup
from bot.messages import InboundMessage
from bot.store.db import Database
from bot.store.models import Ticket, TicketEvent

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app(
    db: Database, settings: Settings, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[App]:
    built = build_app(settings, clock=clock, interpreter=interpreter, migrate=False)
    yield built
    await built.close()


async def say(app: App, user: str, text: str = "", payload: str | None = None) -> str:
    replies = await app.engine.handle(
        InboundMessage(channel="terminal", user_id=user, chat_id=user, text=text, payload=payload)
    )
    for reply in replies:
        if reply.id is not None:
            await app.engine.mark_sent(reply.id)
    return "\n".join(r.text for r in replies)


async def test_cancel_is_confirmed_audited_and_stops_follow_ups(app: App) -> None:
    await say(app, "alice", "部電梯壞咗，3棟2單元1502室，電話91234567")
    await say(app, "alice", "今日內")
    reply = await say(app, "alice", "確認提交")
    assert "R-20261127-0001" in reply, reply
    async with app.db.session() as session:
        ticket = await session.scalar(select(Ticket))
        assert ticket is not None
        pending = (
            await session.scalars(select(Followup).where(Followup.ticket_id == ticket.id))
        ).all()
    assert [f for f in pending if f.status == "pending"], "a new ticket has follow-ups"

    reply = await say(app, "alice", "唔使整啦 取消張單")
    assert "確定要取消工單 R-20261127-0001" in reply, reply
    async with app.db.session() as session:
        assert (await session.scalar(select(Ticket.status))) == "open"  # not before a yes

    reply = await say(app, "alice", "係")
    assert "已取消工單 R-20261127-0001" in reply, reply
    async with app.db.session() as session:
        ticket = await session.scalar(select(Ticket))
        assert ticket is not None and ticket.status == "cancelled"
        assert ticket.closed_at is not None
        [event] = (
            await session.scalars(
                select(TicketEvent).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.action == "cancelled"
                )
            )
        ).all()
        assert event.actor == f"user:{ticket.contact_id}"
        assert event.data == {"reason": "唔使整啦 取消張單"}
        statuses = (
            await session.scalars(select(Followup.status).where(Followup.ticket_id == ticket.id))
        ).all()
    assert statuses and set(statuses) == {"cancelled"}, statuses
