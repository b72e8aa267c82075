"""Tables of the web console: staff accounts and the audit of what they did there."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigIntPK
from bot.store.types import JSONType


class StaffRole(enum.StrEnum):
    """What a staff member may do; each role may do everything of the roles before it."""

    AGENT = "agent"  # works tickets
    SUPERVISOR = "supervisor"  # also reassigns and sees everyone's
    MANAGER = "manager"  # also sees reports, exports and sends notices

    @property
    def rank(self) -> int:
        return list(StaffRole).index(self)

    def at_least(self, other: StaffRole) -> bool:
        """True when this role may do what ``other`` may."""
        return self.rank >= other.rank


class StaffAccount(Base):
    """A person who logs in to the console. The password is stored as an argon2 hash only."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default=StaffRole.AGENT)
    password_hash: Mapped[str] = mapped_column(String(200))
    # Links the account to an agent of the Telegram groups (the same person on both doors).
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
    language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StaffAudit(Base):
    """Every login attempt and every action taken in the console: who, what, on what, when."""

    __tablename__ = "staff_audit"
    __table_args__ = (Index("ix_staff_audit_action_created", "action", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL"), index=True
    )
    # The e-mail typed at login (also for unknown addresses), for the rate limit and the trail.
    email: Mapped[str] = mapped_column(String(254), index=True)
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(64))  # e.g. a ticket number
    client: Mapped[str | None] = mapped_column(String(64))  # the client's address
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]


class TicketOwner(Base):
    """Who in the office has a ticket: claimed by a staff member, or assigned by a supervisor.

    One row per owned ticket (none: nobody has it yet). The history is on the ticket's audit
    trail (``claimed`` / ``assigned_staff`` events)."""

    __tablename__ = "ticket_owners"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    since: Mapped[datetime]
