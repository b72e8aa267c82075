"""Opening tickets from forms, and listing a user's tickets (``/mytickets``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import runtime
from bot.actions.display import unit_text, when_text
from bot.actions.forms import tracker_now
from bot.followups.deadlines import apply_deadlines
from bot.store.models import Contact, Ticket
from bot.tickets import list_for_contact, open_ticket


def _meta(tracker: Tracker) -> dict[str, Any]:
    return tracker.latest_message.get("metadata") or {}


async def open_ticket_from_form(
    tracker: Tracker,
    *,
    kind: str,
    category: str,
    description: str,
    priority: str = "normal",
    unit: Any = None,
    phone: str | None = None,
    visit_time: str | None = None,
    anonymous: bool = False,
    details: dict[str, Any] | None = None,
    remember_unit: bool = True,
) -> Ticket:
    """Open a ticket for the conversation's contact, in the turn's transaction.

    Remembers the unit and phone on the contact so the next form does not ask again;
    ``remember_unit=False`` when the place is not the contact's flat (a lift, a car park).
    """
    meta = _meta(tracker)
    now = tracker_now(tracker)
    contact_id = meta.get("contact_id")
    extra = dict(details or {})
    attachments = tracker.get_slot("attachments") or []
    if attachments:
        extra["attachments"] = attachments
    unit_display = None
    if isinstance(unit, dict):
        extra["unit"] = unit
        # Staff read tickets in the office's language, whatever the customer wrote in.
        unit_display = unit_text(unit, runtime.services().settings.default_language)
    elif unit:
        unit_display = str(unit)
    async with runtime.transaction() as session:
        ticket = await open_ticket(
            session,
            kind=kind,
            now=now,
            actor=f"user:{contact_id}" if contact_id else "user",
            description=description,
            category=category,
            priority=priority,
            unit=unit_display,
            contact_id=contact_id,
            conversation_id=meta.get("conversation_id"),
            contact_phone=None if anonymous else phone,
            visit_time=visit_time,
            anonymous=anonymous,
            language=tracker.get_slot("language"),
            details=extra,
        )
        await apply_deadlines(session, ticket, runtime.services().settings, now)
        if contact_id and not anonymous:
            contact = await session.get(Contact, contact_id)
            if contact is not None:
                if phone and not contact.phone:
                    contact.phone = phone
                if unit_display and remember_unit:
                    contact.unit = unit_display
                contact.updated_at = now
    return ticket


def submitted_message(ticket: Ticket, language: str) -> dict[str, Any]:
    """Values for the "ticket opened" responses: number and the promised response time."""
    values: dict[str, Any] = {"ticket_number": ticket.number}
    due: datetime | None = ticket.due_first_response
    values["respond_by"] = when_text(due.astimezone(runtime.services().clock.tz)) if due else ""
    return values


class ActionMyTickets(Action):
    """The contact's own tickets with their status, newest first."""

    def name(self) -> str:
        return "action_my_tickets"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        from bot.actions.ticket_status import own_ticket, show_ticket

        contact_id = _meta(tracker).get("contact_id")
        tz = runtime.services().clock.tz
        number = next(
            (
                str(e.get("value"))
                for e in tracker.latest_message.get("entities") or []
                if e.get("entity") == "ticket_id"
            ),
            None,
        )
        if number:
            # Asked inside a form ("R-… 點呀" while a flat is asked): that ticket, shown only.
            async with runtime.transaction() as session:
                ticket = await own_ticket(session, contact_id, number)
            if ticket is None:
                dispatcher.utter_message(response="utter_ticket_not_found", number=number)
                return []
            return show_ticket(dispatcher, ticket, tracker_now(tracker))
        async with runtime.transaction() as session:
            tickets = list(await list_for_contact(session, contact_id)) if contact_id else []
        if not tickets:
            dispatcher.utter_message(response="utter_no_tickets")
            return []
        kinds = {
            str(e.get("value"))
            for e in tracker.latest_message.get("entities") or []
            if e.get("entity") == "ticket_kind"
        }
        latest = next((t for t in tickets if t.kind in kinds), None)
        if latest is not None:
            # "my repair last week?": that repair, with its status and when it is followed up.
            return show_ticket(dispatcher, latest, tracker_now(tracker))
        lines = [
            {
                "response": "utter_ticket_line",
                "values": {
                    "number": t.number,
                    "kind": f"@utter_ticket_kind_{t.kind}",
                    "category": f"@utter_{t.kind}_category_{t.category or 'other'}"
                    if t.kind in ("repair", "complaint", "feedback")
                    else "",
                    "status": f"@utter_ticket_status_{t.status}",
                    "date": when_text(t.created_at.astimezone(tz)),
                },
            }
            for t in tickets
        ]
        dispatcher.utter_message(response="utter_my_tickets", tickets=lines, count=len(tickets))
        return []
