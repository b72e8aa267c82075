"""Emergency tickets: opened at once with what is known, completed as details arrive.

The policy (when, what to ask) is the engine's (:mod:`bot.dialogue.emergency`); these actions
only write tickets. The engine passes what it knows in the latest message's metadata:
``hazard``, ``location`` (text for staff), ``unit`` (a parsed flat, when the place is one),
``phone`` and ``text`` (the user's words). They run only inside the engine: under
``kefu actions serve`` that metadata would be whatever the caller sent (a real Rasa serves
emergencies with the repair form instead).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from bot.actions import runtime
from bot.actions.forms import MAX_DETAIL_CHARS, tracker_now
from bot.actions.tickets import open_ticket_from_form, submitted_message
from bot.store.models import Contact, Priority, Ticket, TicketStatus
from bot.tickets import add_event, get_ticket

log = logging.getLogger(__name__)

# The repair category each hazard is filed under (drives the SLA and routing).
HAZARD_CATEGORY = {
    "gas": "safety",
    "fire": "safety",
    "trapped": "lift",
    "burst_pipe": "water_leak",
    "flooding": "water_leak",
    "power_cut": "electrical",
}
# The same hazard reported again within this time, while its ticket is open, is the same
# emergency (people in panic repeat themselves): no second ticket.
SAME_EMERGENCY_WITHIN = timedelta(hours=2)


def _meta(tracker: Tracker) -> dict[str, Any]:
    return tracker.latest_message.get("metadata") or {}


def _engine_only(name: str, dispatcher: CollectingDispatcher) -> bool:
    if runtime.in_process():
        return True
    log.warning("%s refused: it runs only inside Kefu's engine", name)
    dispatcher.utter_message(response="utter_internal_error")
    return False


def _actor(meta: dict[str, Any]) -> str:
    contact_id = meta.get("contact_id")
    return f"user:{contact_id}" if contact_id else "user"


class ActionOpenEmergency(Action):
    """Opens the urgent repair ticket of an emergency (or finds the one already open) and says
    so; the SLA policy for urgent tickets schedules the on-duty alert."""

    def name(self) -> str:
        return "action_open_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not _engine_only(self.name(), dispatcher):
            return []
        meta = _meta(tracker)
        hazard = str(meta.get("hazard") or "")
        text = str(meta.get("text") or "")[:MAX_DETAIL_CHARS]
        now = tracker_now(tracker)
        language = tracker.get_slot("language") or "zh-Hant"
        conversation_id = meta.get("conversation_id")
        async with runtime.transaction() as session:
            if conversation_id is not None:
                stmt = (
                    select(Ticket)
                    .where(
                        Ticket.conversation_id == conversation_id,
                        Ticket.priority == Priority.URGENT,
                        Ticket.status.in_(TicketStatus.OPEN_STATES),
                        Ticket.created_at >= now - SAME_EMERGENCY_WITHIN,
                    )
                    .order_by(Ticket.id.desc())
                )
                same = next(
                    (
                        t
                        for t in (await session.execute(stmt)).scalars()
                        if (t.details or {}).get("emergency") == hazard
                    ),
                    None,
                )
                if same is not None:
                    await add_event(
                        session,
                        same,
                        actor=_actor(meta),
                        action="reported_again",
                        now=now,
                        data={"text": text},
                    )
                    dispatcher.utter_message(
                        response="utter_emergency_already_reported", ticket_number=same.number
                    )
                    return [SlotSet("emergency_ticket", same.number)]
        unit = meta.get("unit") if isinstance(meta.get("unit"), dict) else None
        location = meta.get("location") or None
        details: dict[str, Any] = {"emergency": hazard}
        if location:
            details["location"] = location
        ticket = await open_ticket_from_form(
            tracker,
            kind="repair",
            category=HAZARD_CATEGORY.get(hazard, "safety"),
            priority="urgent",
            description=text,
            unit=unit or location,
            phone=meta.get("phone") or None,
            details=details,
            remember_unit=unit is not None,
        )
        dispatcher.utter_message(
            response="utter_emergency_ticket_opened", **submitted_message(ticket, language)
        )
        return [SlotSet("emergency_ticket", ticket.number), SlotSet("attachments", None)]


class ActionEmergencyDetail(Action):
    """Adds a location, a phone number or photos given after the emergency ticket was opened."""

    def name(self) -> str:
        return "action_emergency_detail"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not _engine_only(self.name(), dispatcher):
            return []
        meta = _meta(tracker)
        number = tracker.get_slot("emergency_ticket")
        if not number:
            return []
        now = tracker_now(tracker)
        unit = meta.get("unit") if isinstance(meta.get("unit"), dict) else None
        location = str(meta.get("location") or "")
        phone = str(meta.get("phone") or "")
        files = list(tracker.get_slot("attachments") or [])
        async with runtime.transaction() as session:
            ticket = await get_ticket(session, str(number))
            if ticket is None:
                return []
            details = dict(ticket.details or {})
            added: list[str] = []
            if location:
                ticket.unit = location[:100]
                details["location"] = location
                if unit is not None:
                    details["unit"] = unit
                added.append("location")
            if phone and not ticket.anonymous:
                ticket.contact_phone = phone
                added.append("phone")
                contact_id = meta.get("contact_id")
                contact = await session.get(Contact, contact_id) if contact_id else None
                if contact is not None and not contact.phone:
                    contact.phone = phone
                    contact.updated_at = now
            if files:
                details["attachments"] = list(details.get("attachments") or []) + files
                added.append("attachments")
            if not added:
                return []
            ticket.details = details
            ticket.updated_at = now
            await add_event(
                session,
                ticket,
                actor=_actor(meta),
                action="details_added",
                now=now,
                data={"fields": added},
            )
        return [SlotSet("attachments", None)] if files else []
