"""What every takeover operation shares: the engine it hands conversations over with, the
agents' texts, the group outbox, and the lookups of topics and tickets.

:class:`~bot.agents.service.Takeover` is this core plus :class:`~bot.agents.escalation.Escalations`
(into the queue) and :class:`~bot.agents.transitions.Transitions` (claim, assign, release,
resolve). Database only: nothing here talks to Telegram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.models import (
    OPEN_STATES,
    Agent,
    AgentTopic,
    GroupPost,
    PostKind,
    Role,
    TopicState,
)
from bot.agents.texts import AgentTexts
from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.responses import Responses
from bot.messages import Attachment, OutboundMessage
from bot.store.db import Database
from bot.store.models import Conversation, Owner, Ticket, TicketEvent, TicketStatus

CLAIM_REMINDER = "agent_claim_reminder"
CLAIM_SUPERVISOR = "agent_claim_supervisor"
# escalate_reason: the retired "survey:R-…" protocol, still in conversations stored before it.
HIDDEN_SLOTS = {"language", "requested_slot", "pending_text", "attachments", "escalate_reason"}


class EngineLike(Protocol):
    """What takeover needs from :class:`bot.dialogue.engine.Engine`."""

    responses: Responses

    async def set_owner(
        self,
        conversation_id: int,
        owner: Owner | str,
        *,
        agent_id: int | None = None,
        session: AsyncSession | None = None,
    ) -> Conversation: ...

    async def notify(
        self,
        conversation_id: int,
        response: str,
        values: dict[str, Any] | None = None,
        *,
        session: AsyncSession | None = None,
        sender: str = "bot",
    ) -> list[OutboundMessage]: ...

    async def send_text(
        self,
        conversation_id: int,
        text: str,
        *,
        sender: str,
        images: Sequence[Attachment] = (),
        session: AsyncSession | None = None,
    ) -> list[OutboundMessage]: ...


@dataclass
class Outcome:
    """The result of a transition: whether it happened, and what to deliver afterwards."""

    ok: bool
    topic: AgentTopic | None = None
    reason: str = ""  # why not: "taken", "closed", "not_yours", "unknown"
    holder: Agent | None = None  # who has it (when taken)
    customer: list[OutboundMessage] = field(default_factory=list)  # to the customer
    topic_ops: list[str] = field(default_factory=list)  # "rename", "close", "reopen"


def queue_post(
    session: AsyncSession,
    topic: AgentTopic | None,
    kind: PostKind,
    *,
    now: datetime,
    text: str = "",
    data: dict[str, Any] | None = None,
    group_chat_id: int | None = None,
    thread_id: int | None = None,
) -> GroupPost:
    """Queue something for the agents' group in ``session`` (sent by the relay under the
    group limit, only once the transaction commits)."""
    chat = topic.group_chat_id if topic is not None else group_chat_id
    if chat is None:
        raise ValueError("a group post needs a topic or a group chat id")
    row = GroupPost(
        group_chat_id=chat,
        topic_id=topic.id if topic is not None else None,
        thread_id=thread_id,
        kind=kind,
        text=text,
        data=data or {},
        created_at=now,
        attempts=0,
    )
    session.add(row)
    return row


class TakeoverCore:
    """Settings, engine, clock and texts of the takeover, and the lookups its operations share."""

    def __init__(self, settings: Settings, db: Database, engine: EngineLike, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.engine = engine
        self.clock = clock
        self.responses = engine.responses
        self.texts = AgentTexts(settings, engine.responses, clock.tz)
        self.language = self.texts.language

    # ------------------------------------------------------------------ texts

    def text(self, response: str, /, **values: Any) -> str:
        """An agent-facing text (dialogues/agents.yml) in the agents' language."""
        return self.texts.text(response, **values)

    def when(self, dt: datetime | None) -> str:
        """A time for agents, in the office timezone and the agents' language."""
        return self.texts.when(dt)

    def left(self, due: datetime | None, now: datetime) -> str:
        """Time left until ``due`` (negative: overdue), for agents."""
        return self.texts.left(due, now)

    def post(
        self,
        session: AsyncSession,
        topic: AgentTopic | None,
        kind: PostKind,
        *,
        now: datetime,
        text: str = "",
        data: dict[str, Any] | None = None,
        group_chat_id: int | None = None,
        thread_id: int | None = None,
    ) -> GroupPost:
        """Queue something for the agents' group (see :func:`queue_post`)."""
        return queue_post(
            session,
            topic,
            kind,
            now=now,
            text=text,
            data=data,
            group_chat_id=group_chat_id,
            thread_id=thread_id,
        )

    # ------------------------------------------------------------------ lookups

    async def _current_ticket(self, session: AsyncSession, conversation_id: int) -> Ticket | None:
        stmt = (
            select(Ticket)
            .where(
                Ticket.conversation_id == conversation_id,
                Ticket.status.not_in(TicketStatus.CLOSED_STATES),
            )
            .order_by(Ticket.id.desc())
            .limit(1)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def open_topic(self, session: AsyncSession, conversation_id: int) -> AgentTopic | None:
        """The conversation's open (queued or claimed) escalation, if any."""
        stmt = (
            select(AgentTopic)
            .where(AgentTopic.conversation_id == conversation_id, AgentTopic.state.in_(OPEN_STATES))
            .order_by(AgentTopic.id.desc())
            .limit(1)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def _ticket_topic(self, session: AsyncSession, ticket_id: int) -> AgentTopic | None:
        stmt = (
            select(AgentTopic)
            .where(AgentTopic.ticket_id == ticket_id)
            .order_by(AgentTopic.id.desc())
            .limit(1)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def _fresh(
        self, session: AsyncSession, topic_id: int, *, lock: bool = False
    ) -> AgentTopic | None:
        stmt = select(AgentTopic).where(AgentTopic.id == topic_id)
        if lock and not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        stmt = stmt.execution_options(populate_existing=True)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def _ticket(self, session: AsyncSession, topic: AgentTopic) -> Ticket | None:
        return await session.get(Ticket, topic.ticket_id) if topic.ticket_id else None

    # ------------------------------------------------------------------ shared steps

    def _may_act(self, topic: AgentTopic, agent: Agent) -> bool:
        return (
            topic.state == TopicState.QUEUED
            or topic.agent_id == agent.id
            or agent.role == Role.SUPERVISOR
        )

    async def _hand_over(
        self, session: AsyncSession, topic: AgentTopic, owner: Owner, agent: Agent, now: datetime
    ) -> None:
        if topic.conversation_id is None:
            return
        await self.engine.set_owner(
            topic.conversation_id,
            owner,
            agent_id=agent.id if owner == Owner.AGENT else None,
            session=session,
        )

    def _audit(
        self,
        session: AsyncSession,
        ticket: Ticket,
        agent: Agent,
        action: str,
        now: datetime,
        **data: Any,
    ) -> None:
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                actor=f"agent:{agent.id}",
                action=action,
                data={k: v for k, v in data.items() if v not in (None, "")},
                created_at=now,
            )
        )
