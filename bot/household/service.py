"""One file per household (一戶一檔): everything the office knows about one unit, in one place.

The file gathers the unit's residents (the registry), its tickets with their audit trails
(repairs, complaints, feedback, payment proofs ...), the call-backs of those tickets (the chat
survey's answer on the ticket and every phone ``callback`` event, see the audit convention in
``bot.tickets.service``), the fee balance on a day and the payments recorded on the ledger.

A unit is matched by its canonical key (``bot.records.units``), so 「3座18樓B室」, 「3座18楼B室」
and "Flat B, 18/F, Block 3" are one file. A ticket belongs to the unit when its flat is the
unit; a ticket without a flat (a common area) belongs to it when a chat linked to one of the
unit's residents opened it, unless it is anonymous.

No words here: :mod:`bot.household.render` puts the file into the office's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import FeesSettings
from bot.nlu.entities import format_unit, unit_key
from bot.records.fees import Balance, balance
from bot.records.models import ContactResident, FeeItem, Resident
from bot.records.units import Unit, read_unit
from bot.sla.state import SlaState
from bot.store.models import Ticket, TicketEvent

# Audit actions that are a call-back's answer (the shared contract of TicketEvent actions):
# staff's phone call-back, and the customer's answer to the chat survey.
CALLBACK_ACTION = "callback"
SURVEY_ACTION = "survey_answered"
CALLBACK_ACTIONS = (CALLBACK_ACTION, SURVEY_ACTION)


class UnitUnreadable(ValueError):
    """The unit text names no flat Kefu can read (「大堂」, "somewhere", a floor alone)."""


@dataclass(frozen=True, slots=True)
class CallBack:
    """One call-back answer: the chat survey (``channel`` ``chat``) or a phone call."""

    ticket_number: str
    at: datetime | None
    channel: str
    score: int | None
    fixed: bool | None
    comment: str
    by: str


@dataclass(frozen=True, slots=True)
class Payment:
    """What the ledger records as paid on one charge."""

    period: str
    item: str
    amount: Decimal
    paid_amount: Decimal
    paid_at: datetime | None


@dataclass(slots=True)
class HouseholdFile:
    """The file of one unit on ``today`` (see the module docstring)."""

    unit: Unit
    today: date
    residents: list[Resident] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    events: dict[int, list[TicketEvent]] = field(default_factory=dict)
    callbacks: list[CallBack] = field(default_factory=list)
    balance: Balance | None = None
    payments: list[Payment] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing at all is known about the unit (probably a typo)."""
        return not (self.residents or self.tickets or self.payments) and (
            self.balance is None or self.balance.settled
        )

    def tickets_of(self, kind: str) -> list[Ticket]:
        """The unit's tickets of one kind (``complaint`` ...), newest first."""
        return [t for t in self.tickets if t.kind == kind]


def parse_unit_text(text: str, language: str) -> Unit:
    """The unit in ``text`` normalised as everywhere else, or :class:`UnitUnreadable`."""
    unit = read_unit(text, language)
    if unit is None or not unit.parts.get("room"):
        # 「3座18樓」 is a floor, not a household: never show a floor's worth of files as one.
        raise UnitUnreadable(text)
    return unit


async def household_file(
    session: AsyncSession, unit: Unit, *, today: date, fees: FeesSettings
) -> HouseholdFile:
    """Assemble the file of ``unit`` (read-only; newest tickets first, oldest charges first).

    The agents' card can call this with the unit of the chat's ticket to show "the household".
    """
    result = HouseholdFile(unit=unit, today=today)
    result.residents = list(
        (
            await session.scalars(
                select(Resident)
                .where(Resident.unit_key == unit.key)
                .order_by(Resident.role, Resident.name, Resident.id)
            )
        ).all()
    )
    result.tickets = await _tickets(session, unit, [r.id for r in result.residents])
    if result.tickets:
        events = (
            await session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id.in_([t.id for t in result.tickets]))
                .order_by(TicketEvent.created_at, TicketEvent.id)
            )
        ).all()
        for event in events:
            result.events.setdefault(event.ticket_id, []).append(event)
    result.callbacks = _callbacks(result.tickets, result.events)
    result.balance = await balance(session, unit.key, today, fees)
    result.payments = await _payments(session, unit.key)
    return result


async def household_for_ticket(
    session: AsyncSession,
    ticket: Ticket,
    *,
    today: date,
    fees: FeesSettings,
    language: str = "zh-Hant",
) -> HouseholdFile | None:
    """The file of the flat a ticket is about, for the agents' card ("this household: 2
    residents, 3 open tickets, HKD 2,500 due"), its unit shown in ``language`` (the office's);
    None for a common area or no flat."""
    parts: Any = (ticket.details or {}).get("unit")
    unit: Unit | None = None
    if isinstance(parts, dict) and parts.get("room"):
        unit = read_unit(format_unit(parts, "en"), language)
    elif ticket.unit:
        unit = read_unit(ticket.unit, language)
    if unit is None or not unit.parts.get("room"):
        return None
    return await household_file(session, unit, today=today, fees=fees)


async def _tickets(session: AsyncSession, unit: Unit, resident_ids: list[int]) -> list[Ticket]:
    contacts: list[int] = []
    if resident_ids:
        contacts = list(
            (
                await session.scalars(
                    select(ContactResident.contact_id).where(
                        ContactResident.resident_id.in_(resident_ids),
                        ContactResident.verified.is_(True),
                    )
                )
            ).all()
        )
    # Narrow in SQL by the room's text (every spelling of the flat shows it), then compare keys.
    room = str(unit.parts.get("room") or "").strip()
    by_flat = Ticket.unit.icontains(room) if room else Ticket.unit.is_not(None)
    clause = or_(by_flat, Ticket.contact_id.in_(contacts)) if contacts else by_flat
    candidates = (
        await session.scalars(
            select(Ticket).where(clause).order_by(Ticket.created_at.desc(), Ticket.id.desc())
        )
    ).all()
    own = set(contacts)
    out = []
    for ticket in candidates:
        key = _ticket_unit_key(ticket)
        # An anonymous complaint stays anonymous: never filed under the complainant's flat.
        by_contact = not key and not ticket.anonymous and ticket.contact_id in own
        if key == unit.key or by_contact:
            out.append(ticket)
    return out


def _ticket_unit_key(ticket: Ticket) -> str:
    """The ticket's flat as a unit key ('' for no flat: a common area or none given)."""
    parts: Any = (ticket.details or {}).get("unit")
    if isinstance(parts, dict):
        if parts.get("area") and not (parts.get("room") or parts.get("floor")):
            return ""
        return unit_key(parts)
    if ticket.unit:
        parsed = read_unit(ticket.unit, ticket.language or "zh-Hant")
        return parsed.key if parsed is not None else ""
    return ""


def _callbacks(tickets: list[Ticket], events: dict[int, list[TicketEvent]]) -> list[CallBack]:
    """Every call-back answer, oldest first per ticket: phone ``callback`` events and chat
    ``survey_answered`` events; a survey on the ticket without its event (older data) too."""
    out: list[CallBack] = []
    for ticket in tickets:
        answers = [e for e in events.get(ticket.id, []) if e.action in CALLBACK_ACTIONS]
        for e in answers:
            data = e.data or {}
            chat = e.action == SURVEY_ACTION
            out.append(
                CallBack(
                    ticket_number=ticket.number,
                    at=e.created_at,
                    channel="chat" if chat else str(data.get("channel") or "phone"),
                    score=_score(data.get("score")),
                    fixed=data.get("fixed") if isinstance(data.get("fixed"), bool) else None,
                    comment=str(data.get("comment") or ""),
                    by=e.actor,
                )
            )
        surveyed = ticket.survey_score is not None or ticket.survey_fixed is not None
        if surveyed and not any(e.action == SURVEY_ACTION for e in answers):
            out.append(
                CallBack(
                    ticket_number=ticket.number,
                    at=SlaState.of(ticket).callback_done_at,
                    channel="chat",
                    score=ticket.survey_score,
                    fixed=ticket.survey_fixed,
                    comment=ticket.survey_comment or "",
                    by="customer",
                )
            )
    return out


def _score(value: Any) -> int | None:
    try:
        score = int(value)
    except (TypeError, ValueError):
        return None
    return score if 1 <= score <= 5 else None


async def _payments(session: AsyncSession, key: str) -> list[Payment]:
    rows = (
        await session.scalars(
            select(FeeItem)
            .where(FeeItem.unit_key == key, FeeItem.paid_amount > 0)
            .order_by(FeeItem.period, FeeItem.item)
        )
    ).all()
    # Newest payment first; a payment without a date (imported so) after the dated ones.
    rows = sorted(rows, key=lambda r: -r.paid_at.timestamp() if r.paid_at else float("inf"))
    return [
        Payment(
            period=row.period,
            item=row.item,
            amount=Decimal(row.amount),
            paid_amount=Decimal(row.paid_amount),
            paid_at=row.paid_at,
        )
        for row in rows
    ]
