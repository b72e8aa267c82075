"""A claimed chat nobody answers goes back to the queue.

An agent who claims a chat and then goes quiet (lunch, a call, a closed laptop) would leave
the customer hanging behind an owner, so a claim is watched with durable follow-ups, like the
claim reminders: ``agent_claim_idle`` rows with idempotency keys, leased by the follow-up
worker, surviving restarts.

The customer is *waiting* from the claim until an agent's first message, and again from the
first customer message after an agent's last message. When the waiting has lasted
``agents.claim_idle_timeout`` of the agents' working hours (``agents.calendar``; around the
clock for urgent chats, like the claim reminders) the escalation goes back to the queue: a
fresh card with the Claim button in the topic, a notice naming the agent with the supervisors
mentioned, the ticket's audit trail, and a message to the customer that the next colleague
will answer (and that the bot is there for anything urgent). The claim reminders start again.

Checks are scheduled when a chat is claimed (or assigned) and when a customer writes after an
agent's answer; the key ``(topic, claim time, last agent message)`` makes it one check per
waiting spell, however many messages the customer sends.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.models import Agent, AgentTopic, PostKind, TopicState
from bot.config import Settings
from bot.followups.models import Followup
from bot.store.models import Conversation, Message, Owner, TicketEvent

if TYPE_CHECKING:
    from bot.agents.desk import AgentDesk

log = logging.getLogger(__name__)

CLAIM_IDLE = "agent_claim_idle"


async def _last_agent_message(session: AsyncSession, topic: AgentTopic) -> Message | None:
    """The latest message an agent sent the customer since the claim."""
    if topic.conversation_id is None or topic.claimed_at is None:
        return None
    return (
        await session.execute(
            select(Message)
            .where(
                Message.conversation_id == topic.conversation_id,
                Message.direction == "out",
                Message.sender.like("agent:%"),
                Message.created_at >= topic.claimed_at,
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def waiting_since(
    session: AsyncSession, topic: AgentTopic, answered: Message | None = None
) -> datetime | None:
    """Since when the customer of a claimed chat waits for an agent (``None``: not waiting).

    ``answered`` is the agent's last message if the caller has it already.
    """
    if topic.state != TopicState.CLAIMED or topic.claimed_at is None:
        return None
    answered = answered or await _last_agent_message(session, topic)
    if answered is None:
        return topic.claimed_at
    return await session.scalar(
        select(func.min(Message.created_at)).where(
            Message.conversation_id == topic.conversation_id,
            Message.direction == "in",
            Message.created_at > answered.created_at,
        )
    )


def idle_deadline(settings: Settings, topic: AgentTopic, since: datetime) -> datetime:
    """When a wait that began at ``since`` is too long: the timeout in the agents' working
    hours (``agents.calendar``), as for claim reminders; around the clock when urgent."""
    timeout = settings.agents.claim_idle_timeout
    if topic.urgent:
        return since + timeout
    from bot.sla.calendar import build_calendars

    return build_calendars(settings)[settings.agents.calendar].add(since, timeout)


async def schedule_idle_check(
    session: AsyncSession, settings: Settings, topic: AgentTopic, now: datetime
) -> None:
    """Watch a claimed chat: a check when the current waiting spell reaches the timeout."""
    timeout = settings.agents.claim_idle_timeout
    if timeout <= timedelta(0) or topic.state != TopicState.CLAIMED or topic.claimed_at is None:
        return
    answered = await _last_agent_message(session, topic)
    since = await waiting_since(session, topic, answered)
    if since is None:
        return
    from bot.followups.service import schedule

    claim = f"{topic.claimed_at.timestamp():.3f}"
    await schedule(
        session,
        kind=CLAIM_IDLE,
        due_at=max(idle_deadline(settings, topic, since), now),
        idempotency_key=f"{CLAIM_IDLE}:{topic.id}:{claim}:{answered.id if answered else 0}",
        now=now,
        ticket_id=topic.ticket_id,
        conversation_id=topic.conversation_id,
        payload={"topic_id": topic.id, "agent_id": topic.agent_id},
        urgent=topic.urgent,
    )


class ClaimIdle:
    """The ``agent_claim_idle`` follow-up: back to the queue if the customer still waits."""

    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Requeue the escalation when nobody answered for the timeout (else nothing)."""
        payload = followup.payload or {}
        topic = await session.get(AgentTopic, payload.get("topic_id"))
        if topic is None or topic.agent_id != payload.get("agent_id"):
            return  # gone, finished, or another agent's claim now (it has its own check)
        now = self.desk.clock.now()
        since = await waiting_since(session, topic)
        if since is None or now < idle_deadline(self.desk.settings, topic, since):
            return  # answered; a later spell has its own check
        await requeue(self.desk, session, topic, since, now)


async def requeue(
    desk: AgentDesk, session: AsyncSession, topic: AgentTopic, since: datetime, now: datetime
) -> None:
    """Take the chat from its silent agent: queue, card, supervisors, customer, audit."""
    takeover = desk.takeover
    agent = await session.get(Agent, topic.agent_id) if topic.agent_id else None
    minutes = max(1, int((now - since).total_seconds() // 60))
    topic.state = TopicState.QUEUED
    topic.agent_id = None
    topic.updated_at = now
    conversation = (
        await session.get(Conversation, topic.conversation_id) if topic.conversation_id else None
    )
    if conversation is not None and conversation.owner == Owner.AGENT:
        await desk.engine.set_owner(conversation.id, Owner.QUEUE, session=session)
    mentions, links = await desk.mentions(session)
    takeover.post(session, topic, PostKind.CARD, now=now)
    takeover.post(
        session,
        topic,
        PostKind.NOTICE,
        now=now,
        text=takeover.text(
            "utter_agents_claim_idle_requeued",
            agent=agent.name if agent else "—",
            minutes=minutes,
            name=topic.name,
            supervisors=mentions,
        ),
        data={"mentions": links},
    )
    if topic.ticket_id is not None:
        data: dict[str, Any] = {"topic_id": topic.id, "waiting_minutes": minutes}
        if agent is not None:
            data["agent_id"] = agent.id
        session.add(
            TicketEvent(
                ticket_id=topic.ticket_id,
                actor="bot",
                action="claim_idle_requeued",
                data=data,
                created_at=now,
            )
        )
    if conversation is not None:
        await desk.engine.notify(conversation.id, "utter_agents_claim_idle", session=session)
    await takeover.schedule_claim_checks(session, topic, now)
    log.info(
        "escalation %s: no answer from agent %s for %d min, back to the queue",
        topic.id,
        agent.id if agent else None,
        minutes,
    )
    desk.relay.wake()
