"""Who has an escalation: claim, assign, release, resolve, and the customer leaving the queue.

Every transition is a conditional ``UPDATE`` (or a locked row) on the topic, so two agents
pressing Claim at once (in one process or several) cannot both win; the winner's transaction
also hands the conversation over with ``Engine.set_owner`` (which raises
:class:`~bot.events.OwnerChanged`), writes a :class:`~bot.store.models.TicketEvent`, tells the
customer (engine outbox) and queues what the group should see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.core import Outcome, TakeoverCore
from bot.agents.idle import schedule_idle_check
from bot.agents.models import OPEN_STATES, Agent, AgentTopic, PostKind, TopicState
from bot.store.models import (
    Conversation,
    ConversationEvent,
    Owner,
    Ticket,
    TicketEvent,
    TicketStatus,
)


class Transitions(TakeoverCore):
    """Ownership transitions of escalations (database side)."""

    async def claim(self, topic_id: int, agent: Agent) -> Outcome:
        """``agent`` takes the escalation; exactly one of several concurrent claims wins."""
        now = self.clock.now()
        async with self.db.write() as session:
            result = await session.execute(
                update(AgentTopic)
                .where(AgentTopic.id == topic_id, AgentTopic.state == TopicState.QUEUED)
                .values(state=TopicState.CLAIMED, agent_id=agent.id, claimed_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            topic = await self._fresh(session, topic_id)
            if topic is None:
                return Outcome(False, reason="unknown")
            if getattr(result, "rowcount", 0) != 1:
                holder = await session.get(Agent, topic.agent_id) if topic.agent_id else None
                why = "taken" if topic.state == TopicState.CLAIMED else "closed"
                return Outcome(False, topic, reason=why, holder=holder)
            outcome = Outcome(True, topic)
            await self._hand_over(session, topic, Owner.AGENT, agent, now)
            await schedule_idle_check(session, self.settings, topic, now)
            ticket = await self._ticket(session, topic)
            if ticket is not None:
                if ticket.status == TicketStatus.OPEN:
                    ticket.status = TicketStatus.IN_PROGRESS
                    ticket.updated_at = now
                self._audit(session, ticket, agent, "claimed", now, topic_id=topic.id)
            if topic.conversation_id is not None:
                outcome.customer = await self.engine.notify(
                    topic.conversation_id,
                    "utter_agents_claimed",
                    {"agent": agent.name},
                    session=session,
                )
            return outcome

    async def assign(self, topic_id: int, by: Agent, to: Agent) -> Outcome:
        """Give the escalation to ``to`` (a supervisor, the holder, or anyone while queued)."""
        now = self.clock.now()
        async with self.db.write() as session:
            topic, refused = await self._actionable(session, topic_id, by)
            if refused is not None:
                return refused
            assert topic is not None
            previous = topic.agent_id
            topic.state = TopicState.CLAIMED
            topic.agent_id = to.id
            topic.claimed_at = now
            topic.updated_at = now
            await self._hand_over(session, topic, Owner.AGENT, to, now)
            await schedule_idle_check(session, self.settings, topic, now)
            ticket = await self._ticket(session, topic)
            if ticket is not None:
                self._audit(
                    session,
                    ticket,
                    by,
                    "assigned",
                    now,
                    topic_id=topic.id,
                    to_agent=to.id,
                    from_agent=previous,
                )
            outcome = Outcome(True, topic)
            if topic.conversation_id is not None:
                outcome.customer = await self.engine.notify(
                    topic.conversation_id,
                    "utter_agents_assigned",
                    {"agent": to.name},
                    session=session,
                )
            return outcome

    async def _actionable(
        self, session: AsyncSession, topic_id: int, agent: Agent
    ) -> tuple[AgentTopic | None, Outcome | None]:
        """The locked topic if ``agent`` may act on it now, else the refusal to report."""
        topic = await self._fresh(session, topic_id, lock=True)
        if topic is None:
            return None, Outcome(False, reason="unknown")
        if topic.state not in OPEN_STATES:
            return topic, Outcome(False, topic, reason="closed")
        if not self._may_act(topic, agent):
            holder = await session.get(Agent, topic.agent_id)
            return topic, Outcome(False, topic, reason="not_yours", holder=holder)
        return topic, None

    async def release(self, topic_id: int, agent: Agent, note: str = "") -> Outcome:
        """Back to the bot (``/release [note]`` or the button).

        ``note`` is internal, like ``/note``: it goes to the audit trail, never to the
        customer, who gets the standard hand-back text. Agents tell the customer things with
        ordinary messages in the topic.
        """
        return await self._finish(topic_id, agent, TopicState.RELEASED, note)

    async def resolve(self, topic_id: int, agent: Agent, note: str = "") -> Outcome:
        """Resolve the ticket (survey scheduled), close the topic, back to the bot.

        ``note`` (``/resolve [note]``) is internal: stored with the resolution, not sent.
        """
        return await self._finish(topic_id, agent, TopicState.RESOLVED, note)

    async def _finish(self, topic_id: int, agent: Agent, state: TopicState, note: str) -> Outcome:
        now = self.clock.now()
        async with self.db.write() as session:
            topic, refused = await self._actionable(session, topic_id, agent)
            if refused is not None:
                return refused
            assert topic is not None
            topic.state = state
            topic.updated_at = now
            topic.closed_at = now
            outcome = Outcome(True, topic)
            conversation = (
                await session.get(Conversation, topic.conversation_id)
                if topic.conversation_id
                else None
            )
            if conversation is not None and conversation.owner != Owner.BOT:
                await self._hand_over(session, topic, Owner.BOT, agent, now)
            ticket = await self._ticket(session, topic)
            action = "resolved" if state == TopicState.RESOLVED else "released"
            if ticket is not None:
                if state == TopicState.RESOLVED and ticket.is_open:
                    from bot.tickets.lifecycle import resolve_ticket

                    await resolve_ticket(
                        session,
                        ticket,
                        settings=self.settings,
                        now=now,
                        actor=f"agent:{agent.id}",
                        note=note,
                    )
                else:
                    self._audit(session, ticket, agent, action, now, topic_id=topic.id, note=note)
            if state == TopicState.RESOLVED:
                outcome.topic_ops = ["rename", "close"]
            if conversation is not None:
                if note:
                    session.add(
                        ConversationEvent(
                            conversation_id=conversation.id,
                            event="agent_note",
                            data={"agent_id": agent.id, "text": note, "on": action},
                            created_at=now,
                        )
                    )
                outcome.customer = await self.engine.notify(
                    conversation.id,
                    f"utter_agents_{action}",
                    {"agent": agent.name, "ticket": ticket.number if ticket else ""},
                    session=session,
                )
            return outcome

    async def cancel(self, session: AsyncSession, topic: AgentTopic, now: datetime) -> None:
        """The customer left the queue (``/cancel``): close the escalation, tell the group."""
        topic.state = TopicState.CANCELLED
        topic.updated_at = now
        topic.closed_at = now
        self.post(
            session, topic, PostKind.NOTICE, now=now, text=self.text("utter_agents_customer_left")
        )
        ticket = await self._ticket(session, topic)
        if ticket is not None:
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    actor="user",
                    action="left_queue",
                    data={"topic_id": topic.id},
                    created_at=now,
                )
            )

    async def first_response(self, session: AsyncSession, topic: AgentTopic, now: datetime) -> None:
        """An agent answered the customer: the ticket's first response is met."""
        ticket = await self._ticket(session, topic)
        if ticket is not None and ticket.first_response_at is None:
            ticket.first_response_at = now
            ticket.updated_at = now
            from bot.followups.deadlines import apply_deadlines

            await apply_deadlines(session, ticket, self.settings, now)

    async def topics(
        self, *, states: Sequence[str] = OPEN_STATES, agent_id: int | None = None
    ) -> list[tuple[AgentTopic, Ticket | None, Agent | None]]:
        """Escalations (oldest first) with their ticket and agent: ``/queue`` and ``/mine``."""
        async with self.db.session() as session:
            stmt = select(AgentTopic).where(AgentTopic.state.in_(list(states)))
            if agent_id is not None:
                stmt = stmt.where(AgentTopic.agent_id == agent_id)
            rows = list((await session.execute(stmt.order_by(AgentTopic.id))).scalars())
            out = []
            for topic in rows:
                ticket = await self._ticket(session, topic)
                agent = await session.get(Agent, topic.agent_id) if topic.agent_id else None
                out.append((topic, ticket, agent))
            return out
