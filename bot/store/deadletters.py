"""Dead letters: deliveries Kefu can never process (a unique clash, a value the store refuses,
an update the Telegram library cannot read), kept whole for staff instead of retried forever.

One row per channel delivery (e.g. a Telegram ``update_id``): seeing it again counts an attempt
and keeps the latest error. ``kefu updates failed`` lists them; ``kefu updates retry ID`` feeds
one through the channel again (after a fix) and marks it retried.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.db import Database
from bot.store.models import Base, BigIntPK

FAILED = "failed"
RETRIED = "retried"


class DeadLetter(Base):
    """A delivery set aside: its raw payload, why, and when it was seen."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("channel", "delivery_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str | None] = mapped_column(String(128))
    # The payload exactly as received, as JSON text (JSONB would refuse a \u0000 in it).
    payload: Mapped[str] = mapped_column(Text)
    error_class: Mapped[str] = mapped_column(String(200))
    error_message: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=FAILED)
    retried_at: Mapped[datetime | None]

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: every column, times in ISO 8601, the payload parsed."""
        return {
            "id": self.id,
            "channel": self.channel,
            "delivery_id": self.delivery_id,
            "chat_id": self.chat_id,
            "status": self.status,
            "error_class": self.error_class,
            "error_message": self.error_message,
            "first_seen_at": self.first_seen_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "attempts": self.attempts,
            "retried_at": self.retried_at.isoformat() if self.retried_at else None,
            "payload": json.loads(self.payload),
        }


def error_class(exc: BaseException) -> str:
    """``module.Class`` of ``exc``, with the driver's error when SQLAlchemy wraps one."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        name += f" ({type(orig).__module__}.{type(orig).__qualname__})"
    return name[:200]


def error_message(exc: BaseException) -> str:
    """The error's text as a database can keep it (no NUL), first 2,000 characters."""
    return (str(exc).strip() or type(exc).__name__).replace("\x00", "\ufffd")[:2000]


async def record_dead_letter(
    db: Database,
    *,
    channel: str,
    delivery_id: str,
    payload: Any,
    exc: BaseException,
    now: datetime,
    chat_id: str | None = None,
) -> int:
    """Keep a delivery that cannot be processed; returns how often it has been seen (1 the
    first time: that is when the user is told). Raises what the store raises (an outage)."""
    values = {
        "channel": channel,
        "delivery_id": delivery_id,
        "chat_id": chat_id,
        "payload": json.dumps(payload, ensure_ascii=True, default=str),
        "error_class": error_class(exc),
        "error_message": error_message(exc),
        "first_seen_at": now,
        "last_seen_at": now,
        "attempts": 1,
        "status": FAILED,
    }
    insert = (sqlite_insert if db.is_sqlite else pg_insert)(DeadLetter).values(values)
    stmt = insert.on_conflict_do_update(
        index_elements=["channel", "delivery_id"],
        set_={
            "last_seen_at": insert.excluded.last_seen_at,
            "error_class": insert.excluded.error_class,
            "error_message": insert.excluded.error_message,
            "attempts": DeadLetter.attempts + 1,
            "status": FAILED,
        },
    ).returning(DeadLetter.attempts)
    async with db.write() as session:
        return int((await session.execute(stmt)).scalar_one())


async def list_dead_letters(
    db: Database, *, status: str | None = FAILED, limit: int = 100
) -> list[DeadLetter]:
    """Dead letters, newest first; ``status=None`` for every one."""
    stmt = select(DeadLetter).order_by(DeadLetter.last_seen_at.desc(), DeadLetter.id.desc())
    if status is not None:
        stmt = stmt.where(DeadLetter.status == status)
    async with db.session() as session:
        return list((await session.execute(stmt.limit(limit))).scalars())


async def get_dead_letter(db: Database, letter_id: int) -> DeadLetter | None:
    async with db.session() as session:
        return await session.get(DeadLetter, letter_id)


async def mark_retried(db: Database, letter_id: int, now: datetime) -> None:
    """The delivery went through when tried again: no longer listed as failed."""
    async with db.write() as session:
        await session.execute(
            update(DeadLetter)
            .where(DeadLetter.id == letter_id)
            .values(status=RETRIED, retried_at=now)
        )
