"""The ``notices`` table (通告) and the tags that audiences may select by."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigIntPK
from bot.store.types import JSONType

TOPIC = "notices"  # the opt-out topic of ordinary notices


class NoticeKind(enum.StrEnum):
    ORDINARY = "ordinary"  # waits for the end of quiet hours; opted-out residents skipped
    URGENT = "urgent"  # water/power cut today, typhoon: ignores both


class NoticeStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"  # the audience is expanded into deliveries
    CANCELLED = "cancelled"


class Notice(Base):
    """One notice: texts per language, optional attachment, audience, send time and kind."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    title: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)  # language -> text
    body: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    attachment: Mapped[str | None] = mapped_column(String(500))  # a file path
    attachment_type: Mapped[str | None] = mapped_column(String(16))  # "document" | "photo"
    audience: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    kind: Mapped[str] = mapped_column(String(16), default=NoticeKind.ORDINARY)
    send_at: Mapped[datetime]
    until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=NoticeStatus.SCHEDULED)
    created_by: Mapped[str] = mapped_column(String(64), default="staff")
    created_at: Mapped[datetime]
    expanded_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    @property
    def campaign(self) -> str:
        """This notice's campaign key in ``campaign_deliveries``."""
        return campaign_key(self.id)

    @property
    def urgent(self) -> bool:
        return self.kind == NoticeKind.URGENT


def campaign_key(notice_id: int) -> str:
    """``notice:<id>``."""
    return f"notice:{notice_id}"


class AudienceTag(Base):
    """A tag on a phone number (a resident's or a shopper's): audiences may select by tag."""

    __tablename__ = "audience_tags"
    __table_args__ = (UniqueConstraint("tag", "phone", name="uq_audience_tags"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    created_at: Mapped[datetime]
