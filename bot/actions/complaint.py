"""The complaint form (投訴): category, details, anonymous or not, and a promised reply time."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.display import category_ref, quote
from bot.actions.forms import (
    slot_text,
    tracker_now,
    validate_category,
    validate_details,
    validate_phone,
)
from bot.actions.known import contact_unit
from bot.actions.tickets import open_ticket_from_form, submitted_message
from bot.tickets.categories import COMPLAINT_CATEGORIES

COMPLAINT_SLOTS = [
    "complaint_details",
    "complaint_category",
    "anonymous",
    "phone",
    "complaint_confirmed",
]


class ValidateComplaintForm(FormValidationAction):
    """Checks each answer of the complaint form."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("anonymous") is True:
            # Nobody to call back: do not ask for a phone number.
            return [s for s in domain_slots if s != "phone"]
        return list(domain_slots)

    def validate_complaint_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_details("complaint_details", value, dispatcher, tracker)

    def validate_complaint_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_category(
            "complaint_category",
            value,
            COMPLAINT_CATEGORIES,
            "complaint_details",
            dispatcher,
            tracker,
        )

    def validate_anonymous(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"anonymous": value}
        dispatcher.utter_message(response="utter_invalid_anonymous")
        return {"anonymous": None}

    def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_phone(value, dispatcher)

    def validate_complaint_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is True:
            return {"complaint_confirmed": True}
        dispatcher.utter_message(response="utter_ask_complaint_change")
        return {"complaint_confirmed": None}


class ActionAskComplaintConfirmed(Action):
    """Shows the complaint summary and asks to confirm."""

    def name(self) -> str:
        return "action_ask_complaint_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        anonymous = tracker.get_slot("anonymous") is True
        dispatcher.utter_message(
            response="utter_complaint_summary_anonymous"
            if anonymous
            else "utter_complaint_summary",
            details=quote(tracker.get_slot("complaint_details")),
            category=category_ref("complaint", tracker.get_slot("complaint_category")),
            phone=tracker.get_slot("phone") or "",
        )
        return []


class ActionSubmitComplaint(Action):
    """Opens the complaint ticket and promises a reply time."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        anonymous = tracker.get_slot("anonymous") is True
        language = tracker.get_slot("language") or "zh-Hant"
        # The complainant's own flat when Kefu knows it (never for an anonymous complaint): a
        # flat named in the complaint is the other party's, so it is not taken from the text.
        contact_id = (tracker.latest_message.get("metadata") or {}).get("contact_id")
        unit = None if anonymous else await contact_unit(contact_id, now=tracker_now(tracker))
        ticket = await open_ticket_from_form(
            tracker,
            kind="complaint",
            category=tracker.get_slot("complaint_category") or "other",
            description=slot_text(tracker.get_slot("complaint_details")),
            phone=None if anonymous else tracker.get_slot("phone"),
            unit=unit,
            anonymous=anonymous,
        )
        dispatcher.utter_message(
            response="utter_complaint_submitted", **submitted_message(ticket, language)
        )
        return [SlotSet(s, None) for s in [*COMPLAINT_SLOTS, "attachments"]]
