"""Tables of the quarterly owner evaluation: one campaign per quarter, one target per household."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigIntPK
from bot.store.types import JSONType


class TargetStatus(enum.StrEnum):
    PENDING = "pending"  # sampled, the question not sent yet
    ASKED = "asked"  # the questionnaire is in the chat's outbox
    ANSWERED = "answered"
    PHONE = "phone"  # no linked chat: on the phone list
    MISSED = "missed"  # closed without an answer


class EvaluationCampaign(Base):
    """One quarter's evaluation (``2026Q4``). ``seed`` makes its sample reproducible."""

    __tablename__ = "evaluation_campaigns"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    quarter: Mapped[str] = mapped_column(String(8), unique=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    share: Mapped[float] = mapped_column(Float)
    areas: Mapped[list[str]] = mapped_column(JSONType, default=list)
    households: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]


class EvaluationTarget(Base):
    """One sampled household of a campaign, and its answers."""

    __tablename__ = "evaluation_targets"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_key", name="uq_evaluation_target"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("evaluation_campaigns.id", ondelete="CASCADE"), index=True
    )
    unit_key: Mapped[str] = mapped_column(String(100), index=True)
    unit_display: Mapped[str] = mapped_column(String(100))
    building: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=TargetStatus.PENDING)
    scores: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    asked_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    task_ticket: Mapped[str | None] = mapped_column(String(32))
