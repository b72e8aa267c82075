"""Into the agents' queue: a topic with a card for an escalated conversation, the customer
told, the claim reminders scheduled, and the customer's earlier photos copied into the topic.

An escalation raises :class:`~bot.events.Escalated` (with its typed
:class:`~bot.events.EscalationReason`) in the transaction that queued it, unless whoever asked
for it already raised it (a bad survey, a hand-over action: see :mod:`bot.agents.requests`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.core import CLAIM_REMINDER, CLAIM_SUPERVISOR, TakeoverCore
from bot.agents.models import OPEN_STATES, AgentTopic, PostKind, TopicState
from bot.events import Escalated, EscalationReason, publish
from bot.store.models import (
    Contact,
    Conversation,
    Message,
    Owner,
    Priority,
    Ticket,
    TicketEvent,
)

log = logging.getLogger(__name__)

# At most this many earlier customer photos/documents are copied into a new topic.
EARLIER_MEDIA = 10


def typed_reason(reason: EscalationReason | str) -> EscalationReason:
    """The typed reason of a topic's reason (a ticket kind from ``agents.escalate_intents``
    that is not itself a reason is :attr:`EscalationReason.TICKET_KIND`)."""
    try:
        return EscalationReason(reason)
    except ValueError:
        return EscalationReason.TICKET_KIND


class Escalations(TakeoverCore):
    """Putting conversations in the agents' queue (database side)."""

    async def escalate(
        self,
        session: AsyncSession,
        conversation: Conversation,
        *,
        reason: EscalationReason | str,
        now: datetime,
        ticket: Ticket | None = None,
        tell_customer: bool = True,
        take_over: bool = True,
        announce: bool = True,
    ) -> AgentTopic | None:
        """Put a conversation in the agents' queue with a topic and a card (in ``session``).

        ``reason`` is an :class:`EscalationReason`, or the kind of a ticket configured to go to
        a person. Reuses the conversation's open topic, or reopens the ticket's old one. With
        ``take_over=False`` (staff alerts) the bot keeps the conversation until someone claims
        it. ``announce=False``: the :class:`Escalated` event was already raised by whoever asked.
        Returns ``None`` when no agent group is configured.
        """
        reason = str(reason)
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
        topic = await self.open_topic(session, conversation.id)
        was_open = topic is not None
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
        await self.copy_earlier_media(session, topic, conversation, contact, now)
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
            if reason != EscalationReason.HUMAN:  # the engine already said utter_handoff
                await self.engine.notify(conversation.id, "utter_agents_escalated", session=session)
            await self._out_of_hours(session, conversation, urgent, now)
        await self._schedule_claim_checks(session, topic, ticket, now)
        if announce and not was_open:
            await publish(
                session,
                Escalated(
                    conversation.id, typed_reason(reason), now, ticket.id if ticket else None
                ),
            )
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

    def claim_check_times(
        self, topic: AgentTopic, ticket: Ticket | None, now: datetime
    ) -> tuple[list[datetime], datetime]:
        """When to remind the group of an unclaimed escalation, and when to call supervisors.

        With a first-response deadline: at each fraction of the time to it
        (``agents.claim_reminders``, 25 % and 50 % by default), supervisors
        ``supervisor_after`` after the last reminder but no later than the deadline. Without
        one: ``claim_reminder`` after ``now`` (in the agents' calendar unless urgent)."""
        from bot.sla.calendar import build_calendars

        cfg = self.settings.agents
        due = ticket.due_first_response if ticket is not None else None
        if due is not None:
            span = max(due - now, timedelta(0))
            reminders = sorted({now + span * f for f in cfg.claim_reminders}) or [due]
            return reminders, max(min(due, reminders[-1] + cfg.supervisor_after), reminders[-1])
        if topic.urgent:
            remind_at = now + cfg.claim_reminder
        else:
            remind_at = build_calendars(self.settings)[cfg.calendar].add(now, cfg.claim_reminder)
        return [remind_at], remind_at + cfg.supervisor_after

    async def _schedule_claim_checks(
        self, session: AsyncSession, topic: AgentTopic, ticket: Ticket | None, now: datetime
    ) -> None:
        from bot.followups.service import schedule

        reminders, supervisors = self.claim_check_times(topic, ticket, now)
        tag = f"{topic.id}:{now.timestamp():.0f}"
        checks = [
            (CLAIM_REMINDER, due, f"{CLAIM_REMINDER}:{tag}:{n}") for n, due in enumerate(reminders)
        ]
        checks.append((CLAIM_SUPERVISOR, supervisors, f"{CLAIM_SUPERVISOR}:{tag}"))
        for kind, due, key in checks:
            await schedule(
                session,
                kind=kind,
                due_at=due,
                idempotency_key=key,
                now=now,
                ticket_id=ticket.id if ticket else None,
                conversation_id=topic.conversation_id,
                payload={"topic_id": topic.id, "since": now.isoformat()},
                urgent=topic.urgent,
            )

    async def schedule_claim_checks(
        self, session: AsyncSession, topic: AgentTopic, now: datetime
    ) -> None:
        """Unclaimed again (e.g. taken from a silent agent): reminders counted from ``now``."""
        await self._schedule_claim_checks(session, topic, None, now)

    def topic_name(
        self,
        ticket: Ticket | None,
        reason: str,
        contact: Contact | None,
        conversation: Conversation,
    ) -> str:
        """``R-20261127-0001 · 維修 · 1503 · 陳大文`` (Telegram allows 128 chars)."""
        customer = (contact.display_name if contact else None) or f"#{conversation.chat_id}"
        parts: list[str] = []
        if ticket is not None:
            parts.append(ticket.number)
            parts.append(self.texts.label("kind", ticket.kind))
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

    # ------------------------------------------------------------------ customer media

    async def copy_earlier_media(
        self,
        session: AsyncSession,
        topic: AgentTopic,
        conversation: Conversation,
        contact: Contact | None,
        now: datetime,
    ) -> int:
        """Copy the customer's photos and documents that never reached the topic (sent before
        the escalation, or while the bot had the chat back), each exactly once: the topic
        remembers the messages it has (``data["copied"]``). Returns how many were queued."""
        if conversation.channel != "telegram":
            return 0
        copied = set((topic.data or {}).get("copied") or [])
        stmt = (
            select(Message)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == "in",
                Message.channel_message_id.is_not(None),
            )
            .order_by(Message.id.desc())
            .limit(200)
        )
        rows = [m for m in (await session.execute(stmt)).scalars() if m.id not in copied]
        media = [m for m in rows if (m.data or {}).get("attachments")][:EARLIER_MEDIA]
        sender = (contact.display_name if contact else None) or f"#{conversation.chat_id}"
        for message in reversed(media):
            self._queue_copies(session, topic, message, conversation, sender, now)
        return len(media)

    def _queue_copies(
        self,
        session: AsyncSession,
        topic: AgentTopic,
        message: Message,
        conversation: Conversation,
        sender: str,
        now: datetime,
    ) -> None:
        # An album is one message row with a file per part: copy each part's message.
        attachments: list[dict[str, Any]] = (message.data or {}).get("attachments") or []
        for n, attachment in enumerate(attachments):
            self.post(
                session,
                topic,
                PostKind.RELAY_COPY,
                now=now,
                text=message.text or "" if n == 0 else "",
                data={
                    "from_chat_id": conversation.chat_id,
                    "message_id": attachment.get("message_id") or message.channel_message_id,
                    "sender": sender,
                    "kind": attachment.get("kind"),
                    "message_row": message.id,
                },
            )
        data = dict(topic.data or {})
        data["copied"] = [*(data.get("copied") or []), message.id]
        topic.data = data

    async def relay_customer_message(
        self, session: AsyncSession, topic: AgentTopic, message: Message, sender: str, now: datetime
    ) -> None:
        """Copy a customer's message into the topic: text is coalesced, media copied."""
        attachments = (message.data or {}).get("attachments") or []
        if attachments and message.channel_message_id:
            conversation = await session.get(Conversation, message.conversation_id)
            if conversation is not None:
                self._queue_copies(session, topic, message, conversation, sender, now)
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
