"""Staff actions from the agents' group: commands in a ticket's forum topic.

``/contact [note]``, ``/callback SCORE [fixed|notfixed] [comment]``, ``/category CATEGORY
REASON``, ``/priority PRIORITY REASON``, ``/technician NAME`` (also ``/assign NAME`` when NAME
is a technician, not an agent), ``/cancel REASON``, ``/close [reason]``. Each is one call of
:mod:`bot.staff.service` in one transaction, the same as ``kefu staff``; the answer is a
notice in the topic (written to the group outbox in that transaction). Only registered agents
reach here (:class:`~bot.agents.telegram.AgentDesk` ignores everyone else); the audit trail
names them as ``agent:<telegram user id>``.

It also carries out the technician's Telegram message (:data:`TECHNICIAN_NOTICE`): the
follow-up the service scheduled becomes one post in the desk's outbox, sent once by the relay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.models import Agent, AgentTopic, PostKind
from bot.agents.registry import by_telegram_id, find_agent
from bot.followups.models import Followup
from bot.staff import service
from bot.staff.service import TECHNICIAN_NOTICE, StaffError
from bot.staff.technicians import find_technician
from bot.store.models import Ticket
from bot.tickets.lifecycle import TicketStateError

if TYPE_CHECKING:
    from bot.agents.telegram import AgentDesk

COMMANDS = frozenset(
    {"contact", "callback", "category", "priority", "technician", "cancel", "close"}
)
_FIXED = {"fixed", "yes", "y", "已解決", "已解决", "解決", "解决"}
_NOT_FIXED = {"notfixed", "not_fixed", "no", "n", "未解決", "未解决"}


@dataclass
class _Request:
    name: str
    arg: str
    agent: Agent
    ticket: Ticket

    @property
    def actor(self) -> str:
        return f"agent:{self.agent.telegram_user_id}"

    def split(self) -> tuple[str, str]:
        head, _, rest = self.arg.partition(" ")
        return head.strip(), rest.strip()


async def handle_staff_command(
    desk: AgentDesk,
    name: str,
    arg: str,
    agent: Agent,
    topic: AgentTopic | None,
    chat_id: int,
    thread_id: int | None,
) -> bool:
    """Run ``/name arg`` if it is a staff command; ``False`` leaves it to the desk."""
    if name == "assign":
        if not await _technician_not_agent(desk, arg):
            return False  # assigning the escalation to an agent: the desk's own /assign
        name = "technician"
    if name not in COMMANDS:
        return False
    if topic is None or topic.ticket_id is None:
        key = "utter_agents_in_topic_only" if topic is None else "utter_staff_no_ticket"
        await _answer(desk, chat_id, thread_id, topic, desk.takeover.text(key))
        return True
    now = desk.clock.now()
    async with desk.db.write() as session:
        stmt = select(Ticket).where(Ticket.id == topic.ticket_id)
        if not desk.db.is_sqlite:
            stmt = stmt.with_for_update()
        ticket = (await session.execute(stmt)).scalar_one()
        request = _Request(name, arg.strip(), agent, ticket)
        try:  # every check comes before the first write, so a refusal leaves nothing half done
            text = await _ACTIONS[name](desk, session, request)
        except StaffError as exc:
            values = {"command": name, "ticket": ticket.number, **exc.values}
            text = desk.takeover.text(f"utter_staff_{exc.key}", **values)
        except TicketStateError:
            text = desk.takeover.text(
                "utter_staff_refused_state", ticket=ticket.number, status=ticket.status
            )
        desk.takeover.post(session, topic, PostKind.NOTICE, now=now, text=text)
    desk.relay.wake()
    return True


async def _technician_not_agent(desk: AgentDesk, ref: str) -> bool:
    async with desk.db.session() as session:
        if not ref.strip() or await find_agent(session, ref) is not None:
            return False
        return await find_technician(session, ref) is not None


async def _answer(
    desk: AgentDesk, chat_id: int, thread_id: int | None, topic: AgentTopic | None, text: str
) -> None:
    async with desk.db.write() as session:
        desk.takeover.post(
            session,
            topic,
            PostKind.NOTICE,
            now=desk.clock.now(),
            text=text,
            group_chat_id=chat_id,
            thread_id=thread_id,
        )
    desk.relay.wake()


# --- one function per command: do it, say what was done ----------------------------------


async def _contact(desk: AgentDesk, session: AsyncSession, r: _Request) -> str:
    await service.record_contact(
        session,
        r.ticket,
        settings=desk.settings,
        now=desk.clock.now(),
        actor=r.actor,
        channel="phone",
        note=r.arg,
    )
    return desk.takeover.text("utter_staff_contacted", agent=r.agent.name, ticket=r.ticket.number)


async def _callback(desk: AgentDesk, session: AsyncSession, r: _Request) -> str:
    first, rest = r.split()
    if not first.isdigit():
        raise StaffError("score must be 1 to 5", "bad_score")
    word, _, comment = rest.partition(" ")
    fixed: bool | None = None
    if word.lower() in _FIXED:
        fixed = True
    elif word.lower() in _NOT_FIXED:
        fixed = False
    else:
        comment = rest
    result = await service.record_callback(
        session,
        r.ticket,
        settings=desk.settings,
        now=desk.clock.now(),
        actor=r.actor,
        score=int(first),
        fixed=fixed,
        comment=comment,
    )
    key = "utter_staff_callback_recorded"
    if result.reopened:
        key = "utter_staff_callback_reopened"
    elif result.closed:
        key = "utter_staff_callback_closed"
    return desk.takeover.text(key, agent=r.agent.name, ticket=r.ticket.number, score=first)


async def _change(desk: AgentDesk, session: AsyncSession, r: _Request) -> str:
    value, reason = r.split()
    old = getattr(r.ticket, r.name)
    change = service.change_category if r.name == "category" else service.change_priority
    await change(
        session,
        r.ticket,
        value,
        settings=desk.settings,
        now=desk.clock.now(),
        actor=r.actor,
        reason=reason,
    )
    return desk.takeover.text(
        f"utter_staff_{r.name}_changed",
        agent=r.agent.name,
        ticket=r.ticket.number,
        old=old or "—",
        new=value,
        reason=reason,
        first_response=desk.takeover.when(r.ticket.due_first_response),
        resolution=desk.takeover.when(r.ticket.due_resolution),
    )


async def _technician(desk: AgentDesk, session: AsyncSession, r: _Request) -> str:
    done = await service.assign_technician(
        session, r.ticket, r.arg, settings=desk.settings, now=desk.clock.now(), actor=r.actor
    )
    key = "utter_staff_assigned_told" if done.told else "utter_staff_assigned_untold"
    return desk.takeover.text(
        key, agent=r.agent.name, ticket=r.ticket.number, technician=done.technician.name
    )


async def _cancel(desk: AgentDesk, session: AsyncSession, r: _Request) -> str:
    await service.cancel(session, r.ticket, now=desk.clock.now(), actor=r.actor, reason=r.arg)
    return desk.takeover.text(
        "utter_staff_cancelled", agent=r.agent.name, ticket=r.ticket.number, reason=r.arg
    )


async def _close(desk: AgentDesk, session: AsyncSession, r: _Request) -> str:
    await service.close(session, r.ticket, now=desk.clock.now(), actor=r.actor, reason=r.arg)
    return desk.takeover.text("utter_staff_closed", agent=r.agent.name, ticket=r.ticket.number)


_ACTIONS: dict[str, Any] = {
    "contact": _contact,
    "callback": _callback,
    "category": _change,
    "priority": _change,
    "technician": _technician,
    "cancel": _cancel,
    "close": _close,
}


# --- the technician's message ------------------------------------------------------------


class TechnicianNotice:
    """Follow-up handler: the assigned technician's Telegram message, as one post in the
    desk's outbox written in the follow-up's transaction (the relay sends it once)."""

    transactional = True

    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Write the message to the technician's chat, unless there is nothing to say."""
        payload = followup.payload or {}
        chat_id = payload.get("chat_id")
        ticket = await session.get(Ticket, followup.ticket_id) if followup.ticket_id else None
        if ticket is None or chat_id is None:
            return
        takeover = self.desk.takeover
        text = takeover.text(
            "utter_staff_technician_notice",
            ticket=ticket.number,
            kind=takeover.text(f"utter_ticket_kind_{ticket.kind}") or ticket.kind,
            unit=ticket.unit or "—",
            description=(ticket.description or "—")[:500],
            visit=ticket.visit_time or "—",
            by=await self._who(session, str(payload.get("by") or "")),
        )
        takeover.post(
            session, None, PostKind.NOTICE, now=self.desk.clock.now(), text=text,
            group_chat_id=int(chat_id),
        )  # fmt: skip
        self.desk.relay.wake()

    async def _who(self, session: AsyncSession, actor: str) -> str:
        """``staff:Mary`` -> Mary; ``agent:<telegram id>`` -> the agent's name."""
        kind, _, ref = actor.partition(":")
        if kind == "agent" and ref.lstrip("-").isdigit():
            agent = await by_telegram_id(session, int(ref), active_only=False)
            return agent.name if agent is not None else ref
        return ref or "—"


def staff_followup_handlers(desk: AgentDesk) -> dict[str, TechnicianNotice]:
    """The desk's follow-up handlers for staff actions."""
    return {TECHNICIAN_NOTICE: TechnicianNotice(desk)}
