"""fees: payment arrangements and fee reminders per item and stage

Revision ID: 0006_fees
Revises: 0003_records
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0006_fees"
down_revision: str | Sequence[str] | None = "0003_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = bot.store.types.AwareDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fee_arrangements",
        sa.Column("id", ID, nullable=False),
        sa.Column("unit_key", sa.String(length=100), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fee_arrangements_unit_key", "fee_arrangements", ["unit_key"])
    op.create_table(
        "fee_reminders",
        sa.Column("id", ID, nullable=False),
        sa.Column("fee_item_id", ID, nullable=False),
        sa.Column("unit_key", sa.String(length=100), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("followup_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("chats", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["fee_item_id"], ["fee_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fee_item_id", "offset_days", name="uq_fee_reminders_item_offset"),
    )
    op.create_index("ix_fee_reminders_unit_sent", "fee_reminders", ["unit_key", "sent_at"])
    op.create_index("ix_fee_reminders_followup_key", "fee_reminders", ["followup_key"])


def downgrade() -> None:
    op.drop_table("fee_reminders")
    op.drop_table("fee_arrangements")
