"""evaluation: quarterly owner evaluation campaigns and their sampled households

Revision ID: 0006_evaluation
Revises: 0001_foundation
Create Date: 2026-12-02 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0006_evaluation"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = bot.store.types.AwareDateTime(timezone=True)
JSON = bot.store.types.JSONType


def upgrade() -> None:
    op.create_table(
        "evaluation_campaigns",
        sa.Column("id", ID, nullable=False),
        sa.Column("quarter", sa.String(length=8), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("areas", JSON, nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("sent_at", WHEN, nullable=False),
        sa.Column("closes_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("quarter"),
    )
    op.create_table(
        "evaluation_targets",
        sa.Column("id", ID, nullable=False),
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("unit_key", sa.String(length=100), nullable=False),
        sa.Column("unit_display", sa.String(length=100), nullable=False),
        sa.Column("building", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("asked_at", WHEN, nullable=True),
        sa.Column("reminded_at", WHEN, nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("task_ticket", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["evaluation_campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "unit_key", name="uq_evaluation_target"),
    )
    op.create_index("ix_evaluation_targets_campaign_id", "evaluation_targets", ["campaign_id"])
    op.create_index("ix_evaluation_targets_unit_key", "evaluation_targets", ["unit_key"])


def downgrade() -> None:
    op.drop_table("evaluation_targets")
    op.drop_table("evaluation_campaigns")
