"""notices: notices (通告), audience tags, and campaign deliveries and opt-outs

Revision ID: 0006_notices
Revises: 0001_foundation
Create Date: 2026-12-02 06:29:24.708369
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.store.types

revision: str = "0006_notices"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audience_tags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("created_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tag", "phone", name="uq_audience_tags"),
    )
    with op.batch_alter_table("audience_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audience_tags_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_audience_tags_tag"), ["tag"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "title",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("attachment", sa.String(length=500), nullable=True),
        sa.Column("attachment_type", sa.String(length=16), nullable=True),
        sa.Column(
            "audience",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("send_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("until", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("expanded_at", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "campaign_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("chat_id", sa.String(length=128), nullable=True),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("resident_id", sa.BigInteger(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempted_at", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", bot.store.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("channel_message_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign", "recipient", name="uq_campaign_deliveries_recipient"),
    )
    with op.batch_alter_table("campaign_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_deliveries_campaign_status", ["campaign", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_campaign_deliveries_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            "ix_campaign_deliveries_status_due", ["status", "due_at"], unique=False
        )

    op.create_table(
        "campaign_optouts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("created_at", bot.store.types.AwareDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "topic", name="uq_campaign_optouts"),
    )


def downgrade() -> None:
    op.drop_table("campaign_optouts")
    with op.batch_alter_table("campaign_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_deliveries_status_due")
        batch_op.drop_index(batch_op.f("ix_campaign_deliveries_contact_id"))
        batch_op.drop_index("ix_campaign_deliveries_campaign_status")

    op.drop_table("campaign_deliveries")
    op.drop_table("notices")
    with op.batch_alter_table("audience_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audience_tags_tag"))
        batch_op.drop_index(batch_op.f("ix_audience_tags_phone"))

    op.drop_table("audience_tags")
