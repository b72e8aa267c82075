"""Tables of fee collection: payment arrangements and the reminders sent per item and stage."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigIntPK


class ReminderStatus(enum.StrEnum):
    PLANNED = "planned"  # waiting for its unit's follow-up to run
    SENT = "sent"  # in the outbox of at least one linked chat
    NO_CHAT = "no_chat"  # the unit has no linked chat: for the phone list (kefu fees arrears)
    SKIPPED = "skipped"  # paid, disputed or arranged by the time it was due


class FeeArrangement(Base):
    """A unit on a payment arrangement (分期/暫緩): no reminders while it runs."""

    __tablename__ = "fee_arrangements"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(100), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)  # None: until ended by hand
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class FeeReminder(Base):
    """One reminder stage of one fee item. Unique per (item, offset): planned at most once,
    whatever the number of workers or restarts; ``followup_key`` is the unit's follow-up that
    carries it (one message per unit per run)."""

    __tablename__ = "fee_reminders"
    __table_args__ = (
        UniqueConstraint("fee_item_id", "offset_days", name="uq_fee_reminders_item_offset"),
        Index("ix_fee_reminders_unit_sent", "unit_key", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    fee_item_id: Mapped[int] = mapped_column(ForeignKey("fee_items.id", ondelete="CASCADE"))
    unit_key: Mapped[str] = mapped_column(String(100))
    offset_days: Mapped[int] = mapped_column(Integer)
    run_on: Mapped[date] = mapped_column(Date)
    followup_key: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.PLANNED)
    reason: Mapped[str | None] = mapped_column(String(32))
    chats: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
