"""Escalations asked for elsewhere: an action that hands a conversation to a person (the
customer asked, Kefu kept misunderstanding, a bad call-back survey) raises
:class:`~bot.events.Escalated` with its typed :class:`~bot.events.EscalationReason`.

The listener (registered in :mod:`bot.app`) runs in the action's transaction — the customer's
turn in process, or the action server's own transaction — and records the request durably as a
``ConversationEvent``. At the end of the turn the agents' desk
(:mod:`bot.agents.observer`) reads the typed requests and opens the topic; nobody guesses the
reason from the turn's raw events or a ``"survey:R-…"`` string any more.

The takeover raises the same event when it queues a conversation on its own account (a
complaint, an emergency, an SLA breach); the listener ignores those, since a topic is open then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.models import OPEN_STATES, AgentTopic
from bot.config import Settings
from bot.events import Escalated, EscalationReason
from bot.store.models import ConversationEvent

ESCALATION_REQUESTED = "escalation_requested"
ESCALATION_TAKEN = "escalation_request_taken"  # once the desk has acted on it


@dataclass(frozen=True, slots=True)
class EscalationRequest:
    """A typed request for a person, as recorded by the listener."""

    reason: EscalationReason
    ticket_id: int | None = None


def escalation_request_listener(
    settings: Settings,
) -> Callable[[AsyncSession, Escalated], Awaitable[None]]:
    """The :class:`Escalated` listener: record the request for the agents' desk (only where
    agents' groups are configured, and only when nobody has the conversation yet)."""

    async def listener(session: AsyncSession, event: Escalated) -> None:
        if not settings.agents.all_groups():
            return
        open_topic = (
            await session.execute(
                select(AgentTopic.id)
                .where(
                    AgentTopic.conversation_id == event.conversation_id,
                    AgentTopic.state.in_(OPEN_STATES),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        if open_topic is not None:
            return  # raised by the takeover itself, or a person already has it
        session.add(
            ConversationEvent(
                conversation_id=event.conversation_id,
                event=ESCALATION_REQUESTED,
                data={"reason": str(event.reason), "ticket_id": event.ticket_id},
                created_at=event.at,
            )
        )

    return listener


async def take_requests(session: AsyncSession, conversation_id: int) -> list[EscalationRequest]:
    """The escalation requests recorded for ``conversation_id`` and not taken yet, marked taken
    (in ``session``: if the turn rolls back, they are still there for the next one)."""
    rows = list(
        await session.execute(
            select(ConversationEvent.id, ConversationEvent.data)
            .where(
                ConversationEvent.conversation_id == conversation_id,
                ConversationEvent.event == ESCALATION_REQUESTED,
            )
            .order_by(ConversationEvent.id)
        )
    )
    if not rows:
        return []
    await session.execute(
        update(ConversationEvent)
        .where(ConversationEvent.id.in_([row_id for row_id, _ in rows]))
        .values(event=ESCALATION_TAKEN)
        .execution_options(synchronize_session=False)
    )
    found = []
    for _, data in rows:
        try:
            reason = EscalationReason(str((data or {}).get("reason")))
        except ValueError:
            continue
        ticket_id = (data or {}).get("ticket_id")
        found.append(EscalationRequest(reason, int(ticket_id) if ticket_id else None))
    return found
