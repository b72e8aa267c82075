"""The household brief on the escalation card (issue #14, 一戶一檔): who lives in the flat the
ticket is about, its open tickets and complaints and its fee balance, in two lines, with the
command that opens the whole file (``kefu household show UNIT``).

The file itself is :mod:`bot.household`'s; this module only picks the few figures an agent
needs before answering, so the card stays well under Telegram's 4096 characters."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.household import household_for_ticket
from bot.records.present import money
from bot.store.models import Ticket

if TYPE_CHECKING:
    from bot.agents.core import TakeoverCore


async def household_brief(
    takeover: TakeoverCore, session: AsyncSession, ticket: Ticket, now: datetime
) -> str | None:
    """The brief of the ticket's flat in the office's language, or None (a common area, no
    unit, or a flat the office knows nothing about yet)."""
    file = await household_for_ticket(
        session,
        ticket,
        today=now.astimezone(takeover.clock.tz).date(),
        fees=takeover.settings.fees,
        language=takeover.language,
    )
    if file is None or file.empty:
        return None
    balance = file.balance
    currency = f"{balance.currency} " if balance and balance.currency else ""
    unit = file.unit.display
    return takeover.text(
        "utter_agents_card_household",
        unit=unit,
        residents=len(file.residents),
        open=sum(1 for t in file.tickets if t.is_open),
        complaints=sum(1 for t in file.tickets_of("complaint") if t.is_open),
        balance=currency + money(balance.total if balance else 0),
        overdue=currency + money(balance.overdue_total if balance else 0),
        command=f'kefu household show "{unit}"' if " " in unit else f"kefu household show {unit}",
    )
