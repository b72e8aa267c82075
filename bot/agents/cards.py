"""The escalation card agents see at the top of a topic: who, what, details, last messages,
deadlines, state, and the buttons [Claim] [Resolve] [Back to bot].

Everything on it is in the office's language: codes (kind, category, priority, status, visit
window, language) are shown by their labels from ``dialogues/``, deadlines say how long is left
or how overdue they are, and a rework order shows its own deadline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.agents.household_card import household_brief
from bot.agents.models import Agent, AgentTopic, TopicState
from bot.agents.service import HIDDEN_SLOTS, Takeover
from bot.sla.state import SlaState
from bot.store.models import Contact, Conversation, Message, Ticket, TicketStatus

CALLBACK_PREFIX = "kefu:ag:"  # kefu:ag:<action>:<topic id>
ACTIONS = ("claim", "resolve", "release")
_SNIPPET = 200


def callback_data(action: str, topic_id: int) -> str:
    """The callback data of a card button (well under Telegram's 64 bytes)."""
    return f"{CALLBACK_PREFIX}{action}:{topic_id}"


def parse_callback(data: str | None) -> tuple[str, int] | None:
    """``(action, topic_id)`` from a card button's data, or ``None`` if it is not one."""
    if not data or not data.startswith(CALLBACK_PREFIX):
        return None
    action, _, raw_id = data[len(CALLBACK_PREFIX) :].partition(":")
    if action not in ACTIONS or not raw_id.isdigit():
        return None
    return action, int(raw_id)


def keyboard(takeover: Takeover, topic: AgentTopic) -> InlineKeyboardMarkup | None:
    """The buttons that make sense in the topic's state."""
    actions: tuple[str, ...]
    if topic.state == TopicState.QUEUED:
        actions = ("claim", "resolve", "release")
    elif topic.state == TopicState.CLAIMED:
        actions = ("resolve", "release")
    else:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    takeover.text(f"utter_agents_button_{a}"),
                    callback_data=callback_data(a, topic.id),
                )
                for a in actions
            ]
        ]
    )


async def render_card(
    takeover: Takeover, session: AsyncSession, topic: AgentTopic
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The card's text and keyboard, from the current state of the database."""
    conversation = (
        await session.get(Conversation, topic.conversation_id) if topic.conversation_id else None
    )
    contact = await session.get(Contact, conversation.contact_id) if conversation else None
    ticket = await session.get(Ticket, topic.ticket_id) if topic.ticket_id else None
    agent = await session.get(Agent, topic.agent_id) if topic.agent_id else None
    texts = takeover.texts
    now = takeover.clock.now()
    values: dict[str, Any] = {
        "title": topic.name,
        "reason": f"@utter_agents_reason_{topic.reason}",
        "customer": (contact.display_name if contact else None) or "—",
        "phone": (contact.phone if contact else None) or "—",
        "language": texts.label("language", conversation.language if conversation else None),
        "status": _status(takeover, topic, agent),
    }
    lines: list[str] = []
    if ticket is not None:
        lines.append(
            takeover.text(
                "utter_agents_card_ticket",
                number=ticket.number,
                kind=texts.label("kind", ticket.kind),
                category=texts.label("category", ticket.category, kind=ticket.kind),
                priority=texts.label("priority", ticket.priority),
                status=texts.label("status", ticket.status),
            )
        )
        if ticket.description:
            lines.append(_cut(ticket.description))
        for key in ("unit", "contact_phone", "visit_time"):
            value = getattr(ticket, key)
            if value:
                lines.append(f"• {_label(takeover, key)}: {texts.label(key, value)}")
        attachments = (ticket.details or {}).get("attachments") or []
        if attachments:
            lines.append(f"• {_label(takeover, 'attachments')}: {len(attachments)}")
        brief = await household_brief(takeover, session, ticket, now)
        if brief:
            lines.append(brief)
    slots = (conversation.slots if conversation else None) or {}
    for key, value in slots.items():
        if key in HIDDEN_SLOTS or value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items() if v)
        elif isinstance(value, str):
            value = texts.label(key, value, kind=ticket.kind if ticket else None)
        lines.append(f"• {_label(takeover, key)}: {_cut(str(value), 80)}")
    values["details"] = "\n".join(lines) or "—"
    values["messages"] = await _last_messages(takeover, session, topic)
    if ticket is not None:
        values["sla"] = _deadlines(takeover, ticket, now)
    else:
        values["sla"] = takeover.text("utter_agents_no_deadline")
    return takeover.text("utter_agents_card", **values), keyboard(takeover, topic)


def _deadlines(takeover: Takeover, ticket: Ticket, now: datetime) -> str:
    """First response and resolution due (or overdue), and a rework order's deadline."""
    texts = takeover.texts
    done = ticket.status in TicketStatus.CLOSED_STATES
    text = takeover.text(
        "utter_agents_card_sla",
        first_response=texts.deadline(
            ticket.due_first_response, now, met=ticket.first_response_at is not None
        ),
        resolution=texts.deadline(ticket.due_resolution, now, met=done),
    )
    rework = SlaState.of(ticket).rework
    if rework is not None and not done:
        text += "\n" + takeover.text(
            "utter_agents_card_rework", rework=texts.deadline(rework.due, now)
        )
    return text


def _status(takeover: Takeover, topic: AgentTopic, agent: Agent | None) -> str:
    name = agent.name if agent else "—"
    return takeover.text(f"utter_agents_status_{topic.state}", agent=name)


def _label(takeover: Takeover, key: str) -> str:
    name = f"utter_agents_slot_{key}"
    return takeover.text(name) if name in takeover.responses else key


def _cut(text: str, limit: int = _SNIPPET) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _last_messages(takeover: Takeover, session: AsyncSession, topic: AgentTopic) -> str:
    count = takeover.settings.agents.card_messages
    if not topic.conversation_id or count <= 0:
        return "—"
    rows = (
        await session.execute(
            select(Message)
            .where(Message.conversation_id == topic.conversation_id)
            .order_by(Message.id.desc())
            .limit(count)
        )
    ).scalars()
    lines = []
    for message in reversed(list(rows)):
        who = "👤" if message.direction == "in" else ("🤖" if message.sender == "bot" else "🧑‍💼")
        text = message.text or ("📎" if (message.data or {}).get("attachments") else "")
        lines.append(f"{who} {_cut(text, 160)}")
    return "\n".join(lines) or "—"
