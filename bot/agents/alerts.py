"""What the agents' groups are told by follow-ups: an escalation nobody claimed (reminders at
fractions of its first-response deadline, then the supervisors), and SLA alerts — warnings,
breaches, emergencies, rework deadlines, phone call-backs — in the office's language."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_object_session

from bot.agents.core import CLAIM_REMINDER
from bot.agents.models import AgentTopic, PostKind, TopicState
from bot.events import EscalationReason
from bot.followups.models import Followup
from bot.store.models import Conversation, Priority, Ticket, TicketEvent

if TYPE_CHECKING:
    from bot.agents.desk import AgentDesk

log = logging.getLogger(__name__)


class ClaimCheck:
    """Nobody claimed an escalation in time: reminders in the topic, later the supervisors."""

    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Post the reminder or the supervisor escalation if the topic is still unclaimed."""
        topic_id = (followup.payload or {}).get("topic_id")
        topic = await session.get(AgentTopic, topic_id) if topic_id else None
        if topic is None or topic.state != TopicState.QUEUED:
            return
        takeover = self.desk.takeover
        now = self.desk.clock.now()
        waiting = max(1, int((now - topic.created_at).total_seconds() // 60))
        waited = takeover.texts.span(now - topic.created_at)  # 45m, 18h00m
        if followup.kind == CLAIM_REMINDER:
            text = takeover.text("utter_agents_claim_reminder", waited=waited, name=topic.name)
            ticket = await session.get(Ticket, topic.ticket_id) if topic.ticket_id else None
            if ticket is not None and ticket.due_first_response and not ticket.first_response_at:
                text += "\n" + takeover.text(
                    "utter_agents_claim_reminder_due",
                    deadline=takeover.texts.deadline(ticket.due_first_response, now),
                )
            action = "claim_reminder"
            links: list[list[Any]] = []
        else:
            mentions, links = await self.desk.mentions(session)
            text = takeover.text(
                "utter_agents_claim_supervisor",
                waited=waited,
                name=topic.name,
                supervisors=mentions,
            )
            action = "claim_escalated"
        takeover.post(session, topic, PostKind.NOTICE, now=now, text=text, data={"mentions": links})
        if topic.ticket_id is not None:
            session.add(
                TicketEvent(
                    ticket_id=topic.ticket_id,
                    actor="bot",
                    action=action,
                    data={"topic_id": topic.id, "waiting_minutes": waiting},
                    created_at=now,
                )
            )
        self.desk.relay.wake()


class GroupAlerts:
    """SLA breaches, warnings and emergencies, posted in the ticket's topic (created if needed),
    critical ones with the supervisors mentioned."""

    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    async def alert(self, *, level: str, ticket: Ticket, title: str, data: dict[str, Any]) -> None:
        """Post the alert (in the follow-up's transaction when there is one)."""
        session = async_object_session(ticket)
        if session is not None:
            await self._post(session, level, ticket, self.title(title, data))
            return
        async with self.desk.db.write() as own:
            fresh = await own.get(Ticket, ticket.id)
            if fresh is not None:
                await self._post(own, level, fresh, self.title(title, data))

    def title(self, title: str, data: dict[str, Any]) -> str:
        """The alert's title in the office's language (``utter_agents_alert_title_<kind>``,
        naming the deadlines it is about); the follow-up's English title if there is none."""
        texts = self.desk.takeover.texts
        name = f"utter_agents_alert_title_{data.get('alert')}"
        if not texts.has(name):
            return title
        which = [w for w in str(data.get("which") or "").split("+") if w]
        labels = [
            texts.text(f"utter_agents_deadline_{w}")
            if texts.has(f"utter_agents_deadline_{w}")
            else w
            for w in which
        ]
        return texts.text(name, which=" + ".join(labels))

    async def _post(self, session: AsyncSession, level: str, ticket: Ticket, title: str) -> None:
        takeover = self.desk.takeover
        now = self.desk.clock.now()
        topic = (
            await session.execute(
                select(AgentTopic)
                .where(AgentTopic.ticket_id == ticket.id)
                .order_by(AgentTopic.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        critical = level == "critical"
        if topic is None and critical and ticket.conversation_id is not None:
            # Breaches and emergencies get a topic with a card (the bot keeps the chat until
            # someone claims it); warnings and call-back tasks go to the General topic.
            conversation = await session.get(Conversation, ticket.conversation_id)
            if conversation is not None:
                reason = (
                    EscalationReason.EMERGENCY
                    if ticket.priority == Priority.URGENT
                    else EscalationReason.SLA
                )
                topic = await takeover.escalate(
                    session,
                    conversation,
                    reason=reason,
                    now=now,
                    ticket=ticket,
                    tell_customer=False,
                    take_over=False,
                )
        group = None
        if topic is None:
            group = self.desk.settings.agents.route(ticket.kind, ticket.category)
            if group is None:
                log.warning("alert for %s (%s) has no agent group to go to", ticket.number, title)
                return
        mentions, links = await self.desk.mentions(session) if critical else ("", [])
        text = takeover.text(
            f"utter_agents_alert_{level}", ticket=ticket.number, title=title, supervisors=mentions
        )
        takeover.post(
            session,
            topic,
            PostKind.NOTICE,
            now=now,
            text=text,
            data={"mentions": links},
            group_chat_id=group.chat_id if group is not None else None,
        )
        self.desk.relay.wake()
