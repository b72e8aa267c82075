"""Where a new or changed ticket gets its SLA deadlines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Ticket


async def apply_sla(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """Compute and store the ticket's deadlines (and schedule its follow-ups)."""
    return None
