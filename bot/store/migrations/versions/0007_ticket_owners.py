"""ticket_owners: who in the office has a ticket (the web console's claim and assign)

Revision ID: 0007_ticket_owners
Revises: 0006_web
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0007_ticket_owners"
down_revision: str | Sequence[str] | None = "0006_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, bot.store.types.AwareDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ticket_owners",
        sa.Column("ticket_id", PK, nullable=False),
        sa.Column("staff_id", PK, nullable=False),
        _time("since"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index("ix_ticket_owners_staff_id", "ticket_owners", ["staff_id"])


def downgrade() -> None:
    op.drop_table("ticket_owners")
