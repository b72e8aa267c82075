"""deadletter: deliveries set aside because they can never be processed

Revision ID: 0005_deadletter
Revises: 0001_foundation
Create Date: 2026-12-02 04:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0005_deadletter"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, bot.store.types.AwareDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", PK, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error_class", sa.String(length=200), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        _time("first_seen_at"),
        _time("last_seen_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _time("retried_at", True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "delivery_id"),
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
