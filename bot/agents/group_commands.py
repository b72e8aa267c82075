"""The agents' group commands: ``/claim /note /resolve /release /assign /queue /mine /help``
and ``/confirm`` (a payment proof).

Each command is a small async function of a :class:`Command`; which name runs which function
is listed once, in :func:`bot.agents.telegram.command_handlers` (the desk is built with it), so
a new command is one function plus one line there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import Message

from bot.agents.models import OPEN_STATES, Agent, AgentTopic, TopicState
from bot.agents.registry import find_agent
from bot.fees.group import confirm_from_group
from bot.store.models import ConversationEvent, TicketEvent

if TYPE_CHECKING:
    from bot.agents.desk import AgentDesk
    from bot.agents.group_updates import GroupUpdates


@dataclass
class Command:
    """One command typed in an agents' group: who, where, and its argument."""

    updates: GroupUpdates
    message: Message
    agent: Agent
    topic: AgentTopic | None
    thread_id: int | None
    name: str
    arg: str

    @property
    def desk(self) -> AgentDesk:
        return self.updates.desk

    @property
    def chat_id(self) -> int:
        return self.message.chat.id

    def text(self, response: str, /, **values: object) -> str:
        """An agent-facing text in the office's language."""
        return self.desk.takeover.text(response, **values)

    async def say(self, text: str, *, in_topic: bool = True) -> None:
        """Answer in the thread the command came from."""
        topic = self.topic if in_topic else None
        await self.updates.notice(self.chat_id, self.thread_id, text, topic)

    async def in_topic(self) -> AgentTopic | None:
        """The escalation the command is about; ``None`` (and the agent told) outside one."""
        if self.topic is None:
            await self.say(self.text("utter_agents_in_topic_only"), in_topic=False)
        return self.topic


CommandHandler = Callable[[Command], Awaitable[None]]


async def run_command(
    updates: GroupUpdates,
    message: Message,
    agent: Agent,
    topic: AgentTopic | None,
    thread_id: int | None,
) -> None:
    """Parse ``/name[@bot] arg`` and run its handler (``/help`` for an unknown name)."""
    head, _, arg = (message.text or "").partition(" ")
    name, _, addressee = head[1:].partition("@")
    if addressee and addressee.lower() != (updates.desk.bot.username or "").lower():
        return  # a command for another bot in the group
    name = name.lower()
    handlers: Mapping[str, CommandHandler] = updates.desk.commands
    handler = handlers.get(name, show_help)
    await handler(Command(updates, message, agent, topic, thread_id, name, arg.strip()))


async def show_help(cmd: Command) -> None:
    """``/help`` (and any unknown command): what agents can do."""
    await cmd.say(cmd.text("utter_agents_help"))


async def show_queue(cmd: Command) -> None:
    """``/queue``: the open escalations, oldest first, with their deadlines."""
    await _list(cmd, mine=False)


async def show_mine(cmd: Command) -> None:
    """``/mine``: the escalations the agent holds."""
    await _list(cmd, mine=True)


async def claim(cmd: Command) -> None:
    """``/claim``: take the escalation of this topic."""
    await _transition(cmd, "claim", always_answer=True)


async def resolve(cmd: Command) -> None:
    """``/resolve [note]``: resolve the ticket, close the topic, back to the bot."""
    await _transition(cmd, "resolve")


async def release(cmd: Command) -> None:
    """``/release [note]``: back to the bot."""
    await _transition(cmd, "release")


async def _transition(cmd: Command, action: str, *, always_answer: bool = False) -> None:
    topic = await cmd.in_topic()
    if topic is None:
        return
    outcome = await cmd.updates.do(action, topic.id, cmd.agent, cmd.arg)
    if not outcome.ok or always_answer:
        await cmd.say(cmd.updates.outcome_text(action, outcome, cmd.agent))


async def assign(cmd: Command) -> None:
    """``/assign @someone``: give the escalation to another agent."""
    topic = await cmd.in_topic()
    if topic is None:
        return
    async with cmd.desk.db.session() as session:
        target = await find_agent(session, cmd.arg)
    if target is None:
        await cmd.say(cmd.text("utter_agents_unknown_agent", ref=cmd.arg))
        return
    outcome = await cmd.desk.takeover.assign(topic.id, cmd.agent, target)
    if outcome.ok:
        await cmd.updates.after(outcome)
    await cmd.say(cmd.updates.outcome_text("assign", outcome, target))


async def note(cmd: Command) -> None:
    """``/note text``: an internal note, kept in the audit trail, never sent to the customer."""
    topic = await cmd.in_topic()
    if topic is None:
        return
    now = cmd.desk.clock.now()
    async with cmd.desk.db.write() as session:
        if topic.ticket_id is not None:
            session.add(
                TicketEvent(
                    ticket_id=topic.ticket_id,
                    actor=f"agent:{cmd.agent.id}",
                    action="note",
                    data={"text": cmd.arg, "topic_id": topic.id},
                    created_at=now,
                )
            )
        if topic.conversation_id is not None:
            session.add(
                ConversationEvent(
                    conversation_id=topic.conversation_id,
                    event="agent_note",
                    data={"agent_id": cmd.agent.id, "text": cmd.arg},
                    created_at=now,
                )
            )


async def confirm_payment(cmd: Command) -> None:
    """``/confirm P-… [amount]``: finance confirms a payment proof (:mod:`bot.fees.group`)."""
    desk = cmd.desk
    reply = await confirm_from_group(
        desk.db, desk.settings, desk.clock, cmd.arg, f"agent:{cmd.agent.id}", desk.takeover.text
    )
    await cmd.say(reply)


async def _list(cmd: Command, *, mine: bool) -> None:
    takeover = cmd.desk.takeover
    now = cmd.desk.clock.now()
    if mine:
        items = await takeover.topics(states=(TopicState.CLAIMED,), agent_id=cmd.agent.id)
    else:
        items = await takeover.topics(states=OPEN_STATES)
    items = [i for i in items if i[0].group_chat_id == cmd.chat_id] or items
    if not items:
        key = "utter_agents_mine_empty" if mine else "utter_agents_queue_empty"
        await cmd.say(cmd.text(key), in_topic=False)
        return
    lines = []
    for topic, ticket, holder in items:
        due = (
            ticket.due_first_response
            if ticket and not ticket.first_response_at
            else (ticket.due_resolution if ticket else None)
        )
        lines.append(
            cmd.text(
                "utter_agents_queue_line",
                name=topic.name,
                state=f"@utter_agents_state_{topic.state}",
                agent=holder.name if holder else "—",
                left=takeover.left(due, now),
            )
        )
    key = "utter_agents_mine" if mine else "utter_agents_queue"
    await cmd.say(cmd.text(key, count=len(items), lines="\n".join(lines)), in_topic=False)
