"""What a staff member can do to a ticket from the console, one small function each, all
through the same services as the other doors: :mod:`bot.staff.service` (the same functions as
``kefu staff`` and the agents' group commands), :mod:`bot.tickets.lifecycle` and the outbox.
So an action has the same effect and the same audit entry whichever door it came through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.staff import service as staff
from bot.store.models import Ticket
from bot.tickets.lifecycle import reopen_ticket, resolve_ticket
from bot.tickets.service import add_event
from bot.web import ownership
from bot.web.models import StaffAccount, StaffRole
from bot.web.ownership import OwnershipError
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
    form: Mapping[str, str]
    staff_id: int = 0
    role: str = StaffRole.AGENT

    def field(self, name: str) -> str:
        """A form field, stripped and bounded."""
        return str(self.form.get(name) or "").strip()[:200]


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


async def _contact(a: Act) -> None:
    await staff.record_contact(a.session, a.ticket, settings=a.settings, now=a.now,
                               actor=a.actor, channel=a.field("channel") or "phone",
                               note=a.text)  # fmt: skip


async def _callback(a: Act) -> None:
    try:
        score = int(a.field("score"))
    except ValueError:
        raise staff.StaffError("score must be 1 to 5", "bad_score") from None
    fixed = {"yes": True, "no": False}.get(a.field("fixed"))
    await staff.record_callback(a.session, a.ticket, settings=a.settings, now=a.now,
                                actor=a.actor, score=score, fixed=fixed,
                                comment=a.text)  # fmt: skip


async def _category(a: Act) -> None:
    await staff.change_category(a.session, a.ticket, a.field("category"), settings=a.settings,
                                now=a.now, actor=a.actor, reason=a.text)  # fmt: skip


async def _priority(a: Act) -> None:
    await staff.change_priority(a.session, a.ticket, a.field("priority"), settings=a.settings,
                                now=a.now, actor=a.actor, reason=a.text)  # fmt: skip


async def _assign(a: Act) -> None:
    await staff.assign_technician(a.session, a.ticket, a.field("technician"),
                                  settings=a.settings, now=a.now, actor=a.actor)  # fmt: skip


async def _cancel(a: Act) -> None:
    await staff.cancel(a.session, a.ticket, now=a.now, actor=a.actor, reason=a.text)


async def _close(a: Act) -> None:
    await staff.close(a.session, a.ticket, now=a.now, actor=a.actor, reason=a.text)


async def _me(a: Act) -> StaffAccount:
    me = await a.session.get(StaffAccount, a.staff_id)
    if me is None:
        raise OwnershipError("unknown_staff")
    return me


async def _claim(a: Act) -> None:
    await ownership.claim(a.session, a.ticket, await _me(a), StaffRole(a.role), a.now)


async def _assign_staff(a: Act) -> None:
    await ownership.assign(a.session, a.ticket, a.field("staff"), by=await _me(a),
                           role=StaffRole(a.role), now=a.now)  # fmt: skip


ACTIONS: dict[str, Callable[[Act], Awaitable[None]]] = {
    "note": _note,
    "reply": _reply,
    "resolve": _resolve,
    "reopen": _reopen,
    "contact": _contact,
    "callback": _callback,
    "category": _category,
    "priority": _priority,
    "assign": _assign,
    "cancel": _cancel,
    "close": _close,
    "claim": _claim,
    "assign_staff": _assign_staff,
}
# The console text that confirms each action.
DONE = {name: f"done_{name}" for name in ACTIONS}
# Why a staff action was refused (StaffError.key) -> the console's words for it.
REFUSED = {"need_reason": "need_reason", "bad_score": "bad_score",
           "unknown_technician": "unknown_technician", "same_value": "same_value",
           "bad_category": "bad_value", "bad_priority": "bad_value",
           "already_answered": "already_answered"}  # fmt: skip
