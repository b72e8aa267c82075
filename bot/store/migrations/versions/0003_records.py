"""records: residents, contact links, orders, fee ledger, order-lookup audit

Revision ID: 0003_records
Revises: 0001_foundation
Create Date: 2026-11-27 07:27:44.772504
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.store.types

revision: str = "0003_records"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fee_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_key", sa.String(length=100), nullable=False),
        sa.Column("unit_display", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("paid_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("paid_at", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_key", "period", "item", name="uq_fee_items_unit_period_item"),
    )
    with op.batch_alter_table("fee_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fee_items_unit_key"), ["unit_key"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("updated_at", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("eta", sa.Date(), nullable=True),
        sa.Column("imported_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_phone"), ["phone"], unique=False)

    op.create_table(
        "residents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_key", sa.String(length=100), nullable=False),
        sa.Column("unit_display", sa.String(length=100), nullable=False),
        sa.Column(
            "unit_parts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("move_in", sa.Date(), nullable=True),
        sa.Column("created_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_key", "phone", name="uq_residents_unit_phone"),
    )
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residents_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_residents_unit_key"), ["unit_key"], unique=False)

    op.create_table(
        "contact_residents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("linked_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "resident_id", name="uq_contact_residents_pair"),
    )
    with op.batch_alter_table("contact_residents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_residents_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contact_residents_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "order_lookup_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("locked_until", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_lookup_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_lookup_attempts_contact", ["contact_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_order_lookup_attempts_ref", ["order_ref", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_lookup_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_order_lookup_attempts_ref")
        batch_op.drop_index("ix_order_lookup_attempts_contact")

    op.drop_table("order_lookup_attempts")
    with op.batch_alter_table("contact_residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_residents_resident_id"))
        batch_op.drop_index(batch_op.f("ix_contact_residents_contact_id"))

    op.drop_table("contact_residents")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residents_unit_key"))
        batch_op.drop_index(batch_op.f("ix_residents_phone"))

    op.drop_table("residents")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_phone"))
        batch_op.drop_index(batch_op.f("ix_orders_email"))

    op.drop_table("orders")
    with op.batch_alter_table("fee_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fee_items_unit_key"))

    op.drop_table("fee_items")
