"""ops: a partial index on the outbox (outbound messages not sent yet)

Revision ID: 0005_ops
Revises: 0001_foundation
Create Date: 2026-12-02 04:00:00

``/metrics`` reads the outbox backlog at every scrape; without this index that is a scan of
every message ever stored. The index holds only the unsent rows, so it stays tiny.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_ops"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = sa.text("direction = 'out' AND sent_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_messages_unsent",
        "messages",
        ["id"],
        postgresql_where=UNSENT,
        sqlite_where=UNSENT,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unsent", table_name="messages")
