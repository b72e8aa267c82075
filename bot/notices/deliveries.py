"""Campaign deliveries: one row per recipient of anything sent to many people at once.

Generic on purpose: a notice, a fee reminder round or an evaluation survey is a *campaign*
(``campaign = "notice:12"``); its recipients are rows here, unique per campaign and recipient
(the idempotency key), so expanding an audience twice or two workers racing can never make a
second send. Workers claim rows with a lease (:mod:`bot.notices.dispatch`).

A row is ``sending`` from the moment its request may reach Telegram until the answer is
recorded: a worker killed in between leaves it ``sending``, and whoever finds it after the
lease marks it ``unconfirmed`` (most likely delivered) instead of sending it again.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigIntPK


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its time (or the end of quiet hours)
    CLAIMED = "claimed"  # leased by a worker, not yet attempted
    SENDING = "sending"  # a request may be on its way
    SENT = "sent"
    UNCONFIRMED = "unconfirmed"  # sent, but the answer was lost: never repeated
    FAILED = "failed"
    UNREACHABLE = "unreachable"  # the user blocked the bot
    OPTED_OUT = "opted_out"
    NO_CHAT = "no_chat"  # in the audience, but no linked chat: paper notice or a call
    CANCELLED = "cancelled"


# Rows a worker may still take; every other status is final.
OPEN: frozenset[str] = frozenset(
    {DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.SENDING}
)
# Final statuses that mean the person has not been reached.
NOT_REACHED: frozenset[str] = frozenset(
    {
        DeliveryStatus.FAILED,
        DeliveryStatus.UNREACHABLE,
        DeliveryStatus.OPTED_OUT,
        DeliveryStatus.NO_CHAT,
        DeliveryStatus.CANCELLED,
    }
)


class Delivery(Base):
    """One recipient of one campaign."""

    __tablename__ = "campaign_deliveries"
    __table_args__ = (
        UniqueConstraint("campaign", "recipient", name="uq_campaign_deliveries_recipient"),
        Index("ix_campaign_deliveries_status_due", "status", "due_at"),
        Index("ix_campaign_deliveries_campaign_status", "campaign", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign: Mapped[str] = mapped_column(String(64))
    # Who, as a stable key: "telegram:<chat id>" for a chat, "resident:<id>" for nobody linked.
    recipient: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(32))
    chat_id: Mapped[str | None] = mapped_column(String(128))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    resident_id: Mapped[int | None] = mapped_column(BigInteger)
    # What staff read in the status list (unit, name), and the reader's language.
    label: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str | None] = mapped_column(String(8))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Opt-out topic this row obeys (None: it cannot be opted out of, e.g. urgent).
    topic: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    due_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class OptOut(Base):
    """A contact who asked not to receive one topic of campaigns (reversible: delete it)."""

    __tablename__ = "campaign_optouts"
    __table_args__ = (UniqueConstraint("contact_id", "topic", name="uq_campaign_optouts"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
