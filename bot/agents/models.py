"""Tables of the human takeover: registered agents, one forum topic per escalation, and the
outbox of posts to the agents' groups (sent by :mod:`bot.agents.relay` under the group limit)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigIntPK
from bot.store.types import JSONType


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class TopicState(enum.StrEnum):
    """Where an escalation stands. ``queued`` and ``claimed`` are open."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    RELEASED = "released"  # handed back to the bot
    RESOLVED = "resolved"
    CANCELLED = "cancelled"  # the customer left the queue


OPEN_STATES = (TopicState.QUEUED, TopicState.CLAIMED)


class PostKind(enum.StrEnum):
    RELAY_TEXT = "relay_text"  # a customer's text (coalesced with its neighbours)
    RELAY_COPY = "relay_copy"  # a customer's photo/document, copied from the private chat
    CARD = "card"  # the escalation card with its buttons
    NOTICE = "notice"  # anything else the bot says in the group
    TOPIC = "topic"  # a topic created (recorded as sent: it uses the group's budget too)


class Agent(Base):
    """A person allowed to act in the agents' groups."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    username: Mapped[str | None] = mapped_column(String(64), index=True)  # learnt from Telegram
    role: Mapped[str] = mapped_column(String(16), default=Role.AGENT)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgentTopic(Base):
    """An escalation: a conversation (and its ticket, if any) mapped to a forum topic."""

    __tablename__ = "agent_topics"
    __table_args__ = (
        Index("ix_agent_topics_group_thread", "group_chat_id", "thread_id"),
        Index("ix_agent_topics_state", "state"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    group_chat_id: Mapped[int] = mapped_column(BigInteger)
    # Set once the topic exists in Telegram (created by the relay, outside the turn).
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default=TopicState.QUEUED)
    reason: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    topic_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class GroupPost(Base):
    """The outbox of the agents' groups: one row per thing to post, sent under the limit.

    Rows posted together (coalesced customer messages) share ``post_id``; the number of
    distinct ``post_id`` sent in the last minute is the group's rate budget, shared by every
    process.
    """

    __tablename__ = "agent_outbox"
    __table_args__ = (
        Index("ix_agent_outbox_pending", "sent_at", "id"),
        Index("ix_agent_outbox_group_sent", "group_chat_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    group_chat_id: Mapped[int] = mapped_column(BigInteger)
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_topics.id", ondelete="CASCADE"), index=True
    )
    # Post into this thread when there is no topic (command answers in the General topic).
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    post_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_message_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
