"""Ownership of escalated conversations, in the database only (no Telegram here).

Every transition is a conditional ``UPDATE`` on the topic row (``WHERE state = ...``), so two
agents pressing Claim at once (in one process or several) cannot both win; the winner's
transaction also hands the conversation over with ``Engine.set_owner`` (the engine's ``owner``
event), writes a :class:`~bot.store.models.TicketEvent`, tells the customer (engine outbox)
and queues what the group should see (:class:`~bot.agents.models.GroupPost`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.idle import schedule_idle_check
from bot.agents.models import (
    OPEN_STATES,
    Agent,
    AgentTopic,
    GroupPost,
    PostKind,
    Role,
    TopicState,
)
from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.responses import Responses
from bot.messages import Attachment, OutboundMessage
from bot.store.db import Database
from bot.store.models import (
    Contact,
    Conversation,
    ConversationEvent,
    Message,
    Owner,
    Priority,
    Ticket,
    TicketEvent,
    TicketStatus,
)

log = logging.getLogger(__name__)

CLAIM_REMINDER = "agent_claim_reminder"
CLAIM_SUPERVISOR = "agent_claim_supervisor"
HIDDEN_SLOTS = {"language", "requested_slot", "pending_text", "attachments"}


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


def _now_iso(now: datetime) -> str:
    return now.isoformat()


class Takeover:
    """Escalations and ownership transitions (database side)."""

    def __init__(self, settings: Settings, db: Database, engine: EngineLike, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.engine = engine
        self.clock = clock
        self.responses = engine.responses
        self.language = settings.agents.language or settings.default_language

    # ------------------------------------------------------------------ texts

    def text(self, response: str, /, **values: Any) -> str:
        """An agent-facing text (dialogues/agents.yml) in the agents' language."""
        return self.responses.text(response, self.language, values)

    def when(self, dt: datetime | None) -> str:
        """A time for agents, in the office timezone and the agents' language."""
        if dt is None:
            return "—"
        from bot.actions.display import when_text

        return self.responses.fill(
            "{t}", self.language, {"t": when_text(dt.astimezone(self.clock.tz))}
        )

    # ------------------------------------------------------------------ escalation

    async def escalate(
        self,
        session: AsyncSession,
        conversation: Conversation,
        *,
        reason: str,
        now: datetime,
        ticket: Ticket | None = None,
        tell_customer: bool = True,
        take_over: bool = True,
    ) -> AgentTopic | None:
        """Put a conversation in the agents' queue with a topic and a card (in ``session``).

        Reuses the conversation's open topic, or reopens the ticket's old one. With
        ``take_over=False`` (staff alerts) the bot keeps the conversation until someone claims
        it. Returns ``None`` when no agent group is configured (the conversation stays with
        whoever owns it).
        """
        if ticket is None:
            ticket = await self._current_ticket(session, conversation.id)
        group = self.settings.agents.route(
            ticket.kind if ticket else reason, ticket.category if ticket else None
        )
        if group is None:
            log.warning(
                "escalation (%s) of conversation %s: no agent group configured",
                reason,
                conversation.id,
            )
            return None
        urgent = bool(ticket and ticket.priority == Priority.URGENT)
        topic = await self._open_topic(session, conversation.id)
        if topic is None and ticket is not None:
            topic = await self._ticket_topic(session, ticket.id)
            if topic is not None:
                topic.state = TopicState.QUEUED
                topic.agent_id = None
                topic.conversation_id = conversation.id
                topic.data = {**(topic.data or {}), "reopen": True}
        new = topic is None
        if topic is None:
            topic = AgentTopic(
                conversation_id=conversation.id,
                ticket_id=ticket.id if ticket else None,
                group_chat_id=group.chat_id,
                name="",
                state=TopicState.QUEUED,
                reason=reason,
                topic_closed=False,
                urgent=urgent,
                data={},
                created_at=now,
                updated_at=now,
            )
            session.add(topic)
        elif ticket is not None and topic.ticket_id is None:
            topic.ticket_id = ticket.id
        topic.urgent = topic.urgent or urgent
        topic.reason = reason if new or topic.state == TopicState.QUEUED else topic.reason
        topic.updated_at = now
        contact = await session.get(Contact, conversation.contact_id)
        topic.name = self.topic_name(ticket, reason, contact, conversation)
        await session.flush()
        self.post(session, topic, PostKind.CARD, now=now)
        if not new:
            self.post(
                session,
                topic,
                PostKind.NOTICE,
                now=now,
                text=self.text(
                    "utter_agents_escalated_again", reason=f"@utter_agents_reason_{reason}"
                ),
            )
        if take_over and conversation.owner == Owner.BOT:
            await self.engine.set_owner(conversation.id, Owner.QUEUE, session=session)
        if ticket is not None:
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    actor="bot",
                    action="escalated",
                    data={"reason": reason, "topic_id": topic.id, "group": group.chat_id},
                    created_at=now,
                )
            )
        if tell_customer:
            if reason != "human":  # the engine already said utter_handoff
                await self.engine.notify(conversation.id, "utter_agents_escalated", session=session)
            await self._out_of_hours(session, conversation, urgent, now)
        await self._schedule_claim_checks(session, topic, ticket, now)
        return topic

    async def _out_of_hours(
        self, session: AsyncSession, conversation: Conversation, urgent: bool, now: datetime
    ) -> None:
        if urgent:
            return
        from bot.actions.display import when_text
        from bot.sla.calendar import build_calendars

        calendar = build_calendars(self.settings)[self.settings.agents.calendar]
        if calendar.is_open(now):
            return
        back = calendar.next_open(now).astimezone(self.clock.tz)
        await self.engine.notify(
            conversation.id, "utter_agents_out_of_hours", {"back": when_text(back)}, session=session
        )

    async def _schedule_claim_checks(
        self, session: AsyncSession, topic: AgentTopic, ticket: Ticket | None, now: datetime
    ) -> None:
        from bot.followups.service import schedule
        from bot.sla.calendar import build_calendars

        cfg = self.settings.agents
        if ticket is not None and ticket.due_first_response is not None:
            remind_at = max(ticket.due_first_response, now)
        elif topic.urgent:
            remind_at = now + cfg.claim_reminder
        else:
            calendar = build_calendars(self.settings)[cfg.calendar]
            remind_at = calendar.add(now, cfg.claim_reminder)
        tag = f"{topic.id}:{now.timestamp():.0f}"
        for kind, due in (
            (CLAIM_REMINDER, remind_at),
            (CLAIM_SUPERVISOR, remind_at + cfg.supervisor_after),
        ):
            await schedule(
                session,
                kind=kind,
                due_at=due,
                idempotency_key=f"{kind}:{tag}",
                now=now,
                ticket_id=ticket.id if ticket else None,
                conversation_id=topic.conversation_id,
                payload={"topic_id": topic.id, "since": _now_iso(now)},
                urgent=topic.urgent,
            )

    async def schedule_claim_checks(
        self, session: AsyncSession, topic: AgentTopic, now: datetime
    ) -> None:
        """Unclaimed again (e.g. taken from a silent agent): reminders counted from ``now``."""
        await self._schedule_claim_checks(session, topic, None, now)

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

    async def _open_topic(self, session: AsyncSession, conversation_id: int) -> AgentTopic | None:
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

    async def open_topic(self, session: AsyncSession, conversation_id: int) -> AgentTopic | None:
        """The conversation's open (queued or claimed) escalation, if any."""
        return await self._open_topic(session, conversation_id)

    def topic_name(
        self,
        ticket: Ticket | None,
        reason: str,
        contact: Contact | None,
        conversation: Conversation,
    ) -> str:
        """``R-20261127-0001 · Repair · 1503 · Chan Tai Man`` (Telegram allows 128 chars)."""
        customer = (contact.display_name if contact else None) or f"#{conversation.chat_id}"
        parts: list[str] = []
        if ticket is not None:
            parts.append(ticket.number)
            parts.append(self.text(f"utter_ticket_kind_{ticket.kind}") or ticket.kind)
            unit = ticket.unit or (conversation.slots or {}).get("unit")
            if unit and isinstance(unit, str):
                parts.append(unit)
        else:
            parts.append(self.text(f"utter_agents_reason_{reason}") or reason)
        parts.append(customer)
        name = " · ".join(p for p in parts if p)
        if ticket is not None and ticket.priority == Priority.URGENT:
            name = "🚨 " + name
        return name[:128]

    # ------------------------------------------------------------------ group posts

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
        """Queue something for the agents' group (sent by the relay under the group limit)."""
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

    async def relay_customer_message(
        self, session: AsyncSession, topic: AgentTopic, message: Message, sender: str, now: datetime
    ) -> None:
        """Copy a customer's message into the topic: text is coalesced, media copied."""
        attachments = (message.data or {}).get("attachments") or []
        if attachments and message.channel_message_id:
            conversation = await session.get(Conversation, message.conversation_id)
            # An album is one message row with a file per part: copy each part's message.
            for n, attachment in enumerate(attachments):
                self.post(
                    session,
                    topic,
                    PostKind.RELAY_COPY,
                    now=now,
                    text=message.text or "" if n == 0 else "",
                    data={
                        "from_chat_id": conversation.chat_id if conversation else None,
                        "message_id": attachment.get("message_id") or message.channel_message_id,
                        "sender": sender,
                        "kind": attachment.get("kind"),
                    },
                )
            return
        if message.text:
            self.post(
                session,
                topic,
                PostKind.RELAY_TEXT,
                now=now,
                text=message.text,
                data={"sender": sender, "message_row": message.id},
            )

    # ------------------------------------------------------------------ transitions

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

    async def ticket_reopened(self, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
        """A resolved ticket was reopened (CLI, survey): reopen its topic and say why.

        The conversation stays with its owner; an agent claims it from the card.
        """
        topic = await self._ticket_topic(session, ticket.id)
        if topic is None or topic.state in OPEN_STATES:
            return
        topic.state = TopicState.QUEUED
        topic.agent_id = None
        topic.updated_at = now
        topic.data = {**(topic.data or {}), "reopen": True}
        self.post(session, topic, PostKind.CARD, now=now)
        self.post(
            session,
            topic,
            PostKind.NOTICE,
            now=now,
            text=self.text("utter_agents_ticket_reopened", ticket=ticket.number),
        )

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

    # ------------------------------------------------------------------ helpers

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

    def left(self, due: datetime | None, now: datetime) -> str:
        """Time left until ``due`` (negative: overdue), for agents."""
        if due is None:
            return self.text("utter_agents_no_deadline")
        delta = due - now
        minutes = int(abs(delta) / timedelta(minutes=1))
        span = f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
        if delta < timedelta(0):
            return self.text("utter_agents_overdue", span=span)
        return self.text("utter_agents_time_left", span=span)
