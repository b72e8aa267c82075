"""What a staff member can do to a ticket from the console, one small function each, all
through the same services as the other doors (bot.tickets.lifecycle, the outbox)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.store.models import Ticket
from bot.tickets.lifecycle import reopen_ticket, resolve_ticket
from bot.tickets.service import add_event
from bot.web.replies import reply_to_customer


class EmptyText(ValueError):
    """A note or a reply with nothing in it."""


@dataclass(frozen=True)
class Act:
    """One action's inputs: the ticket (in ``session``'s transaction), the text, who, when."""

    session: AsyncSession
    ticket: Ticket
    text: str
    actor: str
    now: datetime
    settings: Settings


async def _note(a: Act) -> None:
    if not a.text:
        raise EmptyText("note")
    await add_event(a.session, a.ticket, actor=a.actor, action="note", now=a.now,
                    data={"text": a.text})  # fmt: skip


async def _reply(a: Act) -> None:
    if not a.text:
        raise EmptyText("reply")
    await reply_to_customer(a.session, a.ticket, a.text, actor=a.actor, now=a.now)


async def _resolve(a: Act) -> None:
    await resolve_ticket(a.session, a.ticket, settings=a.settings, now=a.now, actor=a.actor,
                         note=a.text)  # fmt: skip


async def _reopen(a: Act) -> None:
    await reopen_ticket(a.session, a.ticket, settings=a.settings, now=a.now, actor=a.actor,
                        reason=a.text)  # fmt: skip


ACTIONS: dict[str, Callable[[Act], Awaitable[None]]] = {
    "note": _note,
    "reply": _reply,
    "resolve": _resolve,
    "reopen": _reopen,
}
# The console text that confirms each action.
DONE = {"note": "done_note", "reply": "done_reply", "resolve": "done_resolved",
        "reopen": "done_reopened"}  # fmt: skip
