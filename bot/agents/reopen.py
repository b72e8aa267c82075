"""A reopened ticket reopens its agents' topic, with a fresh card.

The :class:`~bot.events.TicketReopened` listener (registered in :mod:`bot.app`) runs in the
transaction that reopened the ticket, which may be a ``kefu tickets reopen`` process with no
Telegram at all; so it only schedules a follow-up of kind :data:`TOPIC_REOPEN`. The worker of
``kefu run`` (the process with the agents' desk) carries it out through :class:`TopicReopen`:
the topic is queued again and its card and notice are written to the group outbox, which the
relay sends. One follow-up per reopening (its idempotency key), so one fresh card.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.service import Takeover
from bot.config import Settings
from bot.events import TicketReopened
from bot.followups.models import Followup
from bot.followups.service import schedule
from bot.store.models import Ticket

TOPIC_REOPEN = "agent_topic_reopen"


def reopen_topic_listener(
    settings: Settings,
) -> Callable[[AsyncSession, TicketReopened], Awaitable[None]]:
    """The listener for :class:`TicketReopened`: a follow-up for the agents' desk (only where
    agents' groups are configured: without them there is no topic to reopen)."""

    async def listener(session: AsyncSession, event: TicketReopened) -> None:
        if not settings.agents.all_groups():
            return
        await schedule(
            session,
            kind=TOPIC_REOPEN,
            due_at=event.at,
            idempotency_key=f"{TOPIC_REOPEN}:{event.ticket_id}:{event.at.isoformat()}",
            now=event.at,
            ticket_id=event.ticket_id,
            payload={"actor": event.actor, "reason": event.reason},
            to_customer=False,
            urgent=True,
        )

    return listener


class TopicReopen:
    """Follow-up handler (``kefu run``, with the agents' desk): reopen the ticket's topic."""

    transactional = True  # the topic and its posts are written through the follow-up's session

    def __init__(self, takeover: Takeover) -> None:
        self.takeover = takeover

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        ticket = await session.get(Ticket, followup.ticket_id) if followup.ticket_id else None
        if ticket is None:
            return
        await self.takeover.ticket_reopened(session, ticket, self.takeover.clock.now())
