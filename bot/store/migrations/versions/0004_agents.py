"""agents: registered agents, escalation topics, the agents' group outbox

Revision ID: 0004_agents
Revises: 0001_foundation
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.store.types

revision: str = "0004_agents"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, bot.store.types.AwareDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", PK, nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_user_id"),
    )
    op.create_index("ix_agents_username", "agents", ["username"])
    op.create_table(
        "agent_topics",
        sa.Column("id", PK, nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("group_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.BigInteger(), nullable=True),
        sa.Column("topic_closed", sa.Boolean(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("claimed_at", True),
        _time("closed_at", True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_agent_topics_conversation_id", "agent_topics", ["conversation_id"])
    op.create_index("ix_agent_topics_ticket_id", "agent_topics", ["ticket_id"])
    op.create_index("ix_agent_topics_group_thread", "agent_topics", ["group_chat_id", "thread_id"])
    op.create_index("ix_agent_topics_state", "agent_topics", ["state"])
    op.create_table(
        "agent_outbox",
        sa.Column("id", PK, nullable=False),
        sa.Column("group_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("topic_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        _time("created_at"),
        _time("sent_at", True),
        sa.Column("post_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_message_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["topic_id"], ["agent_topics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_agent_outbox_pending", "agent_outbox", ["sent_at", "id"])
    op.create_index("ix_agent_outbox_group_sent", "agent_outbox", ["group_chat_id", "sent_at"])
    op.create_index("ix_agent_outbox_topic_id", "agent_outbox", ["topic_id"])


def downgrade() -> None:
    op.drop_table("agent_outbox")
    op.drop_table("agent_topics")
    op.drop_index("ix_agents_username", "agents")
    op.drop_table("agents")
