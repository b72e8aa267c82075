"""The ``followups`` table: every scheduled thing Kefu must do later, durably.

A follow-up is written in the same transaction as the ticket change that causes it, claimed by a
worker with a lease, and completed in the same transaction as its effects. APScheduler only
wakes the workers; it never holds follow-ups.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigIntPK
from bot.store.types import JSONType


class FollowupStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class FollowupKind(enum.StrEnum):
    SURVEY = "survey"
    SURVEY_REMINDER = "survey_reminder"
    PHONE_CALLBACK = "phone_callback"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    EMERGENCY_ALERT = "emergency_alert"
    REWORK_DEADLINE = "rework_deadline"
    COMPLAINT_OUTCOME = "complaint_outcome"  # a resolved complaint's result, to the complainant
    COMPLAINT_UNSATISFIED = "complaint_unsatisfied"  # staff alert: reopened at call-back


# Messages to residents: these wait for the end of quiet hours unless urgent.
CUSTOMER_FACING: frozenset[str] = frozenset(
    {FollowupKind.SURVEY, FollowupKind.SURVEY_REMINDER, FollowupKind.COMPLAINT_OUTCOME}
)


class Followup(Base):
    """One scheduled follow-up. ``idempotency_key`` makes scheduling and sending at most once."""

    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_status_due", "status", "due_at"),
        Index("ix_followups_status_lease", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=FollowupStatus.PENDING)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Sent to a resident (quiet hours apply) and whether it may ignore quiet hours.
    to_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return (
            f"Followup(id={self.id}, kind={self.kind}, ticket={self.ticket_id}, "
            f"due={self.due_at:%Y-%m-%d %H:%M}, status={self.status})"
        )
