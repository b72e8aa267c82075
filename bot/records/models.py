"""Tables for the records Kefu answers from: residents, orders, fee ledger, order-lookup audit.

Units are stored by ``unit_key`` (the NLU's canonical key, so 「3棟2單元1502室」, 「3栋2单元1502」
and "Block 3 Unit 2 Rm 1502" are one unit) plus the parsed parts, so the unit can be shown in
any language with ``format_unit``.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.store.models import Base, BigIntPK
from bot.store.types import JSONType

MONEY = Numeric(12, 2)


class ResidentRole(enum.StrEnum):
    OWNER = "owner"
    TENANT = "tenant"


class OrderStatus(enum.StrEnum):
    """Order statuses Kefu can name in every language (``utter_order_status_<value>``)."""

    PENDING = "pending"
    PAID = "paid"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"
    REFUNDED = "refunded"


class Resident(Base):
    """One person registered for one unit (一戶一檔: all rows of a unit form its file)."""

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("unit_key", "phone", name="uq_residents_unit_phone"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(100), index=True)
    unit_display: Mapped[str] = mapped_column(String(100))
    unit_parts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    role: Mapped[str] = mapped_column(String(16))
    move_in: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ContactResident(Base):
    """A chat's contact linked to a resident, after a (verified) phone share matched."""

    __tablename__ = "contact_residents"
    __table_args__ = (
        UniqueConstraint("contact_id", "resident_id", name="uq_contact_residents_pair"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    linked_at: Mapped[datetime]

    resident: Mapped[Resident] = relationship()


class Order(Base):
    """A shop order from the built-in table (``kefu orders import``)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254), index=True)  # lower-case
    items: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime | None]
    eta: Mapped[date | None] = mapped_column(Date)
    imported_at: Mapped[datetime]


class FeeItem(Base):
    """One charge on a unit's ledger: a period's management fee, parking, water, ..."""

    __tablename__ = "fee_items"
    __table_args__ = (
        UniqueConstraint("unit_key", "period", "item", name="uq_fee_items_unit_period_item"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(100), index=True)
    unit_display: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(16))
    item: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    due_date: Mapped[date] = mapped_column(Date)
    paid_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    paid_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderLookupAttempt(Base):
    """Audit of order look-ups that needed a challenge, wrong/right answers and lockouts.

    ``outcome`` is ``lookup`` (a challenge was issued), ``fail``, ``pass`` or ``lock``. A lock
    row with ``contact_id`` set locks that contact; one with ``contact_id`` NULL locks the
    order reference for everybody (many contacts guessing one order's digits).
    """

    __tablename__ = "order_lookup_attempts"
    __table_args__ = (
        Index("ix_order_lookup_attempts_contact", "contact_id", "created_at"),
        Index("ix_order_lookup_attempts_ref", "order_ref", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    order_ref: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
