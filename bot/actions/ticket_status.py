"""Existing tickets: "R-20261202-0002 跟進成點", "my repair last week?", "cancel that ticket".

A customer asking about a ticket they already have must get that ticket, never a second form.
Only their own tickets are shown or cancelled; another customer's number gets the same answer as
a number that does not exist, so numbers cannot be probed. Every sentence is in
``dialogues/tickets.yml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.actions import runtime
from bot.actions.display import when_text
from bot.actions.forms import latest_entity, slot_text, tracker_now
from bot.store.models import Ticket, TicketStatus
from bot.tickets.lifecycle import TicketStateError, cancel_ticket

NUMBER_SLOT = "ticket_number"
REASON_SLOT = "ticket_cancel_reason"
CONFIRM_SLOT = "ticket_cancel_confirmed"
MAX_CHOICES = 5


def _contact_id(tracker: Tracker) -> int | None:
    value = (tracker.latest_message.get("metadata") or {}).get("contact_id")
    return int(value) if value else None


def _entities(tracker: Tracker, name: str) -> set[str]:
    return {
        str(e.get("value"))
        for e in tracker.latest_message.get("entities") or []
        if e.get("entity") == name
    }


def wants_cancel(tracker: Tracker) -> bool:
    """The message asks to cancel (the cancel intent, or 「唔使整」/"cancel" beside a number)."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return intent == "cancel" or "cancel" in _entities(tracker, "ticket_action")


def mentions_ticket(tracker: Tracker) -> bool:
    """Words that point at a ticket the customer already has (「張單」, "that ticket")."""
    return bool(_entities(tracker, "ticket_ref") or _entities(tracker, "ticket_id"))


async def own_ticket(session: AsyncSession, contact_id: int | None, number: str) -> Ticket | None:
    """The ticket ``number`` if it is this contact's; None for anyone else's or an unknown one."""
    if not contact_id or not number:
        return None
    return await session.scalar(
        select(Ticket).where(
            Ticket.number == number.strip().upper(), Ticket.contact_id == contact_id
        )
    )


async def open_tickets(session: AsyncSession, contact_id: int | None) -> Sequence[Ticket]:
    """The contact's open tickets, newest first."""
    if not contact_id:
        return []
    return (
        await session.scalars(
            select(Ticket)
            .where(Ticket.contact_id == contact_id, Ticket.status.in_(TicketStatus.OPEN_STATES))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(MAX_CHOICES)
        )
    ).all()


def ticket_values(ticket: Ticket) -> dict[str, Any]:
    """Values for the ticket responses, in the customer's language (``@utter_*`` references)."""
    tz = runtime.services().clock.tz
    return {
        "number": ticket.number,
        "kind": f"@utter_ticket_kind_{ticket.kind}",
        "category": f"@utter_{ticket.kind}_category_{ticket.category or 'other'}"
        if ticket.kind in ("repair", "complaint", "feedback")
        else "",
        "status": f"@utter_ticket_status_{ticket.status}",
        "date": when_text(ticket.created_at.astimezone(tz)),
    }


def show_ticket(dispatcher: CollectingDispatcher, ticket: Ticket, now: datetime) -> list[EventType]:
    """The ticket's kind, status and date, and for an open one the next promise still ahead;
    remembered so that "cancel that ticket" next means this one."""
    values = ticket_values(ticket)
    dispatcher.utter_message(response="utter_ticket_detail", **values)
    promises = [ticket.due_resolution]
    if ticket.first_response_at is None:
        promises.insert(0, ticket.due_first_response)
    due = next((d for d in promises if d is not None and d > now), None)
    if ticket.is_open and due is not None:
        tz = runtime.services().clock.tz
        dispatcher.utter_message(
            response="utter_ticket_detail_due",
            number=ticket.number,
            due=when_text(due.astimezone(tz)),
        )
    return [SlotSet(NUMBER_SLOT, ticket.number)]


def ask_to_cancel(tracker: Tracker, ticket: Ticket) -> list[EventType]:
    """Start the confirmation: cancelling is not undone by a typo."""
    reason = slot_text(tracker.latest_message.get("text"))[:500]
    return [
        SlotSet(NUMBER_SLOT, ticket.number),
        SlotSet(REASON_SLOT, reason),
        ActiveLoop("ticket_cancel_form"),
    ]


class ActionExistingTicket(Action):
    """A message about a ticket the customer already has: show it, or cancel it (confirmed)."""

    def name(self) -> str:
        return "action_existing_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        contact_id = _contact_id(tracker)
        number = latest_entity(tracker, "ticket_id")
        cancel = wants_cancel(tracker)
        async with runtime.transaction() as session:
            if number:
                ticket = await own_ticket(session, contact_id, str(number))
                if ticket is None:
                    dispatcher.utter_message(response="utter_ticket_not_found", number=number)
                    return []
            elif cancel:
                picked = await self._referenced(session, tracker, contact_id)
                if not isinstance(picked, Ticket):
                    self._choose(dispatcher, picked)
                    return []
                ticket = picked
            else:
                return []
        if not cancel:
            return show_ticket(dispatcher, ticket, tracker_now(tracker))
        if not ticket.is_open:
            dispatcher.utter_message(
                response="utter_ticket_not_cancellable", **ticket_values(ticket)
            )
            return []
        return ask_to_cancel(tracker, ticket)

    async def _referenced(
        self, session: AsyncSession, tracker: Tracker, contact_id: int | None
    ) -> Ticket | Sequence[Ticket]:
        """ "That ticket": the one just talked about if still open, else the only open one;
        otherwise the open tickets to choose from."""
        remembered = slot_text(tracker.get_slot(NUMBER_SLOT))
        if remembered:
            ticket = await own_ticket(session, contact_id, remembered)
            if ticket is not None and ticket.is_open:
                return ticket
        candidates = await open_tickets(session, contact_id)
        return candidates[0] if len(candidates) == 1 else candidates

    def _choose(self, dispatcher: CollectingDispatcher, tickets: Sequence[Ticket]) -> None:
        if not tickets:
            dispatcher.utter_message(response="utter_ticket_none_open")
            return
        buttons = [
            {
                "title": {"response": "utter_ticket_button", "values": ticket_values(t)},
                "payload": '/cancel{"ticket_id":"' + t.number + '"}',
            }
            for t in tickets
        ]
        dispatcher.utter_message(response="utter_ticket_which_to_cancel", buttons=buttons)


class ActionSubmitTicketCancel(Action):
    """The customer answered the confirmation: cancel the ticket (audited) or keep it."""

    def name(self) -> str:
        return "action_submit_ticket_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return await finish_cancel(dispatcher, tracker, tracker.get_slot(CONFIRM_SLOT) is True)


async def answer_with_cancel(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The cancel intent while "Cancel ticket R-…?" waits: 「取消」/"cancel it" repeats the verb
    and means yes; 「算了」/"never mind" means leave the ticket alone."""
    confirmed = "cancel" in _entities(tracker, "ticket_action")
    return [*await finish_cancel(dispatcher, tracker, confirmed), ActiveLoop(None)]


async def finish_cancel(
    dispatcher: CollectingDispatcher, tracker: Tracker, confirmed: bool
) -> list[EventType]:
    """Cancel the ticket being asked about (audited), or say it is kept."""
    number = slot_text(tracker.get_slot(NUMBER_SLOT))
    done: list[EventType] = [SlotSet(CONFIRM_SLOT, None), SlotSet(REASON_SLOT, None)]
    if not confirmed:
        dispatcher.utter_message(response="utter_ticket_cancel_kept", number=number)
        return done
    contact_id = _contact_id(tracker)
    async with runtime.transaction() as session:
        ticket = await own_ticket(session, contact_id, number)
        if ticket is None:
            dispatcher.utter_message(response="utter_ticket_not_found", number=number)
            return done
        try:
            await cancel_ticket(
                session,
                ticket,
                now=tracker_now(tracker),
                actor=f"user:{contact_id}",
                reason=slot_text(tracker.get_slot(REASON_SLOT)),
            )
        except TicketStateError:
            values = ticket_values(ticket)
            dispatcher.utter_message(response="utter_ticket_not_cancellable", **values)
            return done
    dispatcher.utter_message(response="utter_ticket_cancelled", number=number)
    return done
