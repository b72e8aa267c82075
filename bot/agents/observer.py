"""The agents' desk inside every customer turn (``engine.observers``).

At the end of each turn, in its transaction: a customer who left the queue closes their
escalation; a new escalation opens a topic (why: an urgent or configured ticket opened in the
turn, a typed request from :mod:`bot.agents.requests`, a bad survey score, or a conversation
queued without a topic); otherwise the customer's message is relayed into their open topic.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.idle import schedule_idle_check
from bot.agents.models import OPEN_STATES, AgentTopic, TopicState
from bot.agents.requests import take_requests
from bot.events import EscalationReason
from bot.store.db import StoreUnavailable
from bot.store.models import Contact, Conversation, Owner, Priority, Ticket

if TYPE_CHECKING:
    from bot.agents.desk import AgentDesk

log = logging.getLogger(__name__)

Trigger = tuple[EscalationReason | str | None, Ticket | None]


class TurnObserver:
    """Escalations, queue exits and relayed messages, decided at the end of a turn."""

    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    async def observe(self, turn: Any) -> None:
        """Called at the end of every user turn, inside its transaction.

        A failure here is logged and undone (a savepoint on PostgreSQL) without failing the
        customer's turn.
        """
        try:
            if self.desk.db.is_sqlite:
                await self._observe(turn)
            else:
                async with turn.session.begin_nested():
                    await self._observe(turn)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("takeover: turn of conversation %s not observed", turn.conversation.id)

    async def _observe(self, turn: Any) -> None:
        desk = self.desk
        session: AsyncSession = turn.session
        conversation: Conversation = turn.conversation
        now: datetime = turn.now
        topic = await desk.takeover.open_topic(session, conversation.id)
        left_queue = any(e.get("event") == "resume" for e in turn.events)
        if topic is not None and conversation.owner == Owner.BOT and left_queue:
            await desk.takeover.cancel(session, topic, now)
            desk.relay.wake()
            return
        reason, ticket, requested = await self.trigger(session, conversation, now)
        if reason is not None and (topic is None or topic.state == TopicState.QUEUED):
            await self._escalate(session, conversation, reason, ticket, now, announce=not requested)
            return
        if topic is not None and conversation.owner != Owner.BOT and turn.inbound is not None:
            contact: Contact = turn.contact
            sender = contact.display_name or f"#{conversation.chat_id}"
            await desk.takeover.relay_customer_message(session, topic, turn.inbound, sender, now)
            await schedule_idle_check(session, desk.settings, topic, now)  # waiting again?
            desk.relay.wake()
        elif topic is None and conversation.owner == Owner.QUEUE:
            # Queued without a topic (e.g. the groups were configured later): escalate now.
            await self._escalate(session, conversation, EscalationReason.HUMAN, None, now)

    async def _escalate(
        self,
        session: AsyncSession,
        conversation: Conversation,
        reason: EscalationReason | str,
        ticket: Ticket | None,
        now: datetime,
        *,
        announce: bool = True,
    ) -> None:
        escalated = await self.desk.takeover.escalate(
            session, conversation, reason=reason, now=now, ticket=ticket, announce=announce
        )
        if escalated is not None:
            await self.desk.customers.remember(session, conversation.id, now)
            self.desk.relay.wake()

    async def trigger(
        self, session: AsyncSession, conversation: Conversation, now: datetime
    ) -> tuple[EscalationReason | str | None, Ticket | None, bool]:
        """Why this turn escalates (``None``: it does not), the ticket concerned, and whether
        the reason came as a request (its :class:`Escalated` event already raised)."""
        cfg = self.desk.settings.agents
        requests = await take_requests(session, conversation.id)  # taken whatever wins
        escalated = select(AgentTopic.ticket_id).where(AgentTopic.ticket_id.is_not(None))
        opened = list(
            (
                await session.execute(
                    select(Ticket).where(
                        Ticket.conversation_id == conversation.id,
                        Ticket.created_at >= now,
                        Ticket.id.not_in(escalated),  # a ticket is escalated once
                    )
                )
            ).scalars()
        )
        for ticket in opened:
            if ticket.priority == Priority.URGENT and cfg.escalate_urgent:
                return EscalationReason.EMERGENCY, ticket, False
        for ticket in opened:
            if ticket.kind in cfg.escalate_intents:
                return ticket.kind, ticket, False
        for request in requests:
            if request.reason == EscalationReason.SURVEY and cfg.escalate_survey_score <= 0:
                continue
            named = await session.get(Ticket, request.ticket_id) if request.ticket_id else None
            return request.reason, named, True
        if cfg.escalate_survey_score > 0:
            scored = (
                (
                    await session.execute(
                        select(Ticket).where(
                            Ticket.conversation_id == conversation.id,
                            Ticket.survey_score.is_not(None),
                            Ticket.survey_score <= cfg.escalate_survey_score,
                            Ticket.updated_at >= now,
                            Ticket.id.not_in(escalated.where(AgentTopic.state.in_(OPEN_STATES))),
                        )
                    )
                )
                .scalars()
                .first()
            )
            if scored is not None:
                return EscalationReason.SURVEY, scored, False
        return None, None, False
