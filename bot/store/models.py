"""The shared store: typed SQLAlchemy 2 models.

The database is the source of truth for contacts, conversations, every message both ways,
tickets and their audit trail. Later features add their tables in their own modules and
migrations; they import :class:`Base` from here.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.store.types import AwareDateTime, JSONType

# BigInteger primary keys that still autoincrement on SQLite (which only does so for INTEGER).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base shared by every Kefu table."""

    type_annotation_map = {datetime: AwareDateTime(), dict[str, Any]: JSONType}


class Owner(enum.StrEnum):
    """Who answers a conversation: the bot, nobody yet (queued for an agent), or an agent."""

    BOT = "bot"
    QUEUE = "queue"
    AGENT = "agent"


class TicketKind(enum.StrEnum):
    """What a ticket is about; equals the intent that opened it."""

    REPAIR = "repair"
    COMPLAINT = "complaint"
    INQUIRY = "inquiry"
    ORDER = "order"
    PAYMENT = "payment"
    # A suggestion or praise (建議、表揚): thanked at once, passed to the office, counted.
    FEEDBACK = "feedback"


class TicketStatus(enum.StrEnum):
    """Where a ticket stands. Ask the groups below (``status in TicketStatus.OPEN_STATES``,
    ``TicketStatus(status).is_open``) instead of listing statuses, so that a new status is
    classified in one place."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    # Annotated without a value, so not members; set below the class.
    OPEN_STATES: ClassVar[tuple[TicketStatus, ...]]  # still to be worked on
    CLOSED_STATES: ClassVar[tuple[TicketStatus, ...]]  # finished one way or another
    DONE_STATES: ClassVar[tuple[TicketStatus, ...]]  # finished by doing the work

    @property
    def is_open(self) -> bool:
        """Still to be worked on (the SLA clock runs, agents may resolve it)."""
        return self in TicketStatus.OPEN_STATES

    @property
    def is_done(self) -> bool:
        """Resolved or closed: the work was done (a survey may follow); not cancelled."""
        return self in TicketStatus.DONE_STATES


TicketStatus.OPEN_STATES = (
    TicketStatus.OPEN,
    TicketStatus.IN_PROGRESS,
    TicketStatus.WAITING_CUSTOMER,
)
TicketStatus.DONE_STATES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
TicketStatus.CLOSED_STATES = (*TicketStatus.DONE_STATES, TicketStatus.CANCELLED)


class Priority(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


TICKET_PREFIX: dict[str, str] = {
    TicketKind.REPAIR: "R",
    TicketKind.COMPLAINT: "C",
    TicketKind.INQUIRY: "Q",
    TicketKind.ORDER: "O",
    TicketKind.PAYMENT: "P",
    TicketKind.FEEDBACK: "F",
}


class Contact(Base):
    """A person Kefu talks to, whatever channel they use."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    unit: Mapped[str | None] = mapped_column(String(100))
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="contact")


class ChannelIdentity(Base):
    """How a contact is known on one channel (Telegram user id, terminal user name, ...)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]

    contact: Mapped[Contact] = relationship(back_populates="identities")


class Conversation(Base):
    """One chat with one contact on one channel, and everything the engine needs to resume it."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    language: Mapped[str | None] = mapped_column(String(8))
    active_form: Mapped[str | None] = mapped_column(String(64))
    slots: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Engine bookkeeping that is not a slot: retry counters, pending clarification, ...
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    owner: Mapped[str] = mapped_column(String(16), default=Owner.BOT)
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    queued_at: Mapped[datetime | None]
    # Bumped on every turn; lets readers detect concurrent writers.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    contact: Mapped[Contact] = relationship()


class Message(Base):
    """Every message, both ways. Outbound rows double as an outbox until ``sent_at`` is set."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "direction", "channel_message_id"),
        Index("ix_messages_conversation_created", "conversation_id", "id"),
        # The outbox: only unsent outbound rows (read by /metrics at every scrape).
        Index(
            "ix_messages_unsent",
            "id",
            postgresql_where=text("direction = 'out' AND sent_at IS NULL"),
            sqlite_where=text("direction = 'out' AND sent_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    # The inbound message an outbound one answers: replayed, not regenerated, on redelivery.
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None]
    sender: Mapped[str | None] = mapped_column(String(64))  # "bot", "agent:<id>", "user"
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # Outbound: the sender holding the row (a claim token) and until when; an expired claim
    # (its process died) may be taken over. See bot.dialogue.outbox.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]


class ConversationEvent(Base):
    """The Rasa-style event log of a conversation (user, bot, slot, active_loop, action...)."""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_conversation_events_conv", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]


class InboundReceipt(Base):
    """A channel delivery already processed (e.g. a Telegram ``update_id``): never twice."""

    __tablename__ = "inbound_receipts"
    __table_args__ = (UniqueConstraint("channel", "delivery_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Ticket(Base):
    """A repair, complaint, order or payment case, with room for its SLA deadlines."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str | None] = mapped_column(String(32), index=True)
    priority: Mapped[str] = mapped_column(String(16), default=Priority.NORMAL)
    status: Mapped[str] = mapped_column(String(24), default=TicketStatus.OPEN, index=True)
    unit: Mapped[str | None] = mapped_column(String(100), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    visit_time: Mapped[str | None] = mapped_column(String(200))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(8))
    # Everything else the form collected (visit time parsed, order id, amount, attachments...).
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # SLA: deadlines and why they are what they are (filled by bot.sla).
    due_first_response: Mapped[datetime | None]
    due_resolution: Mapped[datetime | None]
    due_callback: Mapped[datetime | None]
    sla_paused_at: Mapped[datetime | None]
    sla: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Call-back survey answers.
    survey_score: Mapped[int | None]
    survey_fixed: Mapped[bool | None]
    survey_comment: Mapped[str | None] = mapped_column(Text)

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )

    @property
    def is_open(self) -> bool:
        """Still to be worked on (see :attr:`TicketStatus.OPEN_STATES`)."""
        return self.status in TicketStatus.OPEN_STATES

    @property
    def is_done(self) -> bool:
        """Resolved or closed (see :attr:`TicketStatus.DONE_STATES`)."""
        return self.status in TicketStatus.DONE_STATES


class TicketEvent(Base):
    """The audit trail of a ticket: who did what, when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "bot", "user:<contact>", "agent:<id>", ...
    action: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketCounter(Base):
    """Per-prefix, per-day sequence for ticket numbers (``R-20261127-0001``)."""

    __tablename__ = "ticket_counters"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
