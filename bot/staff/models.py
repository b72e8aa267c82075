"""The technician register: who can be sent to do a repair (``kefu technicians add``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigIntPK


class Technician(Base):
    """A person (in-house or a contractor) a ticket can be assigned to.

    ``telegram_chat_id`` is optional: when set, the technician is told of an assignment in
    Telegram (through the agents' desk outbox); otherwise staff tell them themselves."""

    __tablename__ = "technicians"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    trade: Mapped[str | None] = mapped_column(String(32))  # plumbing, electrical, lift...
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
