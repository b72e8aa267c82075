"""The escalation card agents see at the top of a topic: who, what, details, last messages,
deadlines, state, and the buttons [Claim] [Resolve] [Back to bot]."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.agents.models import Agent, AgentTopic, TopicState
from bot.agents.service import HIDDEN_SLOTS, Takeover
from bot.store.models import Contact, Conversation, Message, Ticket

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
    values: dict[str, Any] = {
        "title": topic.name,
        "reason": f"@utter_agents_reason_{topic.reason}",
        "customer": (contact.display_name if contact else None) or "—",
        "phone": (contact.phone if contact else None) or "—",
        "language": (conversation.language if conversation else None) or "—",
        "status": _status(takeover, topic, agent),
    }
    lines: list[str] = []
    if ticket is not None:
        lines.append(
            takeover.text(
                "utter_agents_card_ticket",
                number=ticket.number,
                kind=f"@utter_ticket_kind_{ticket.kind}",
                category=ticket.category or "—",
                priority=ticket.priority,
                status=ticket.status,
            )
        )
        if ticket.description:
            lines.append(_cut(ticket.description))
        for key in ("unit", "contact_phone", "visit_time"):
            value = getattr(ticket, key)
            if value:
                lines.append(f"• {_label(takeover, key)}: {value}")
        attachments = (ticket.details or {}).get("attachments") or []
        if attachments:
            lines.append(f"• {_label(takeover, 'attachments')}: {len(attachments)}")
    slots = (conversation.slots if conversation else None) or {}
    for key, value in slots.items():
        if key in HIDDEN_SLOTS or value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items() if v)
        lines.append(f"• {_label(takeover, key)}: {_cut(str(value), 80)}")
    values["details"] = "\n".join(lines) or "—"
    values["messages"] = await _last_messages(takeover, session, topic)
    if ticket is not None:
        values["sla"] = takeover.text(
            "utter_agents_card_sla",
            first_response=takeover.when(ticket.due_first_response),
            resolution=takeover.when(ticket.due_resolution),
        )
    else:
        values["sla"] = takeover.text("utter_agents_no_deadline")
    return takeover.text("utter_agents_card", **values), keyboard(takeover, topic)


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
