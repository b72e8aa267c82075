"""The repair form (報修): what is broken, where, when someone may come, how to call back."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.display import category_ref, quote, unit_text, visit_text
from bot.actions.forms import (
    latest_entity,
    previous_value,
    slot_text,
    tracker_now,
    validate_category,
    validate_details,
    validate_phone,
    validate_time,
    validate_unit,
)
from bot.actions.tickets import open_ticket_from_form, submitted_message
from bot.tickets.categories import REPAIR_CATEGORIES

REPAIR_SLOTS = ["description", "repair_category", "unit", "visit_time", "phone", "repair_confirmed"]


class ValidateRepairForm(FormValidationAction):
    """Checks each answer of the repair form; re-asks with an example when one is invalid."""

    def name(self) -> str:
        return "validate_repair_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = list(domain_slots)
        # In-process the engine's emergency path (bot/dialogue/emergency.py) serves emergencies
        # before any form; this remains for a real Rasa in front of `kefu actions serve`.
        if tracker.get_slot("emergency"):
            # Someone goes at once: no appointment to agree.
            slots = [s for s in slots if s != "visit_time"]
        return slots

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_details("description", value, dispatcher, tracker)

    def validate_repair_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_category(
            "repair_category", value, REPAIR_CATEGORIES, "description", dispatcher, tracker
        )

    def validate_unit(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_unit(
            value,
            dispatcher,
            previous_value(tracker, "unit"),
            asked=tracker.get_slot("requested_slot") == "unit",
        )

    def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_phone(value, dispatcher)

    def validate_visit_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_time(
            "visit_time",
            value,
            dispatcher,
            tracker_now(tracker),
            entity=latest_entity(tracker, "datetime", full=True),
            notes=("description", tracker.get_slot("description")),
        )

    def validate_repair_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is True:
            return {"repair_confirmed": True}
        dispatcher.utter_message(response="utter_ask_repair_change")
        return {"repair_confirmed": None}


def repair_summary_values(tracker: Tracker) -> dict[str, Any]:
    language = tracker.get_slot("language") or "zh-Hant"
    return {
        "description": quote(tracker.get_slot("description")),
        "category": category_ref("repair", tracker.get_slot("repair_category")),
        "unit": unit_text(tracker.get_slot("unit"), language),
        "visit_time": visit_text(tracker.get_slot("visit_time"))
        if tracker.get_slot("visit_time")
        else "@utter_visit_asap",
        "phone": tracker.get_slot("phone") or "",
        "photos": len(tracker.get_slot("attachments") or []),
    }


class ActionAskRepairConfirmed(Action):
    """Shows the summary and asks to confirm."""

    def name(self) -> str:
        return "action_ask_repair_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        response = (
            "utter_repair_summary_emergency"
            if tracker.get_slot("emergency")
            else "utter_repair_summary"
        )
        dispatcher.utter_message(response=response, **repair_summary_values(tracker))
        return []


class ActionSubmitRepair(Action):
    """Opens the repair ticket and says when someone will respond."""

    def name(self) -> str:
        return "action_submit_repair"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        emergency = tracker.get_slot("emergency")
        language = tracker.get_slot("language") or "zh-Hant"
        ticket = await open_ticket_from_form(
            tracker,
            kind="repair",
            category=tracker.get_slot("repair_category") or "other",
            priority="urgent" if emergency else "normal",
            description=slot_text(tracker.get_slot("description")),
            unit=tracker.get_slot("unit"),
            phone=tracker.get_slot("phone"),
            visit_time=tracker.get_slot("visit_time"),
            details={"emergency": emergency} if emergency else {},
        )
        response = "utter_repair_submitted_emergency" if emergency else "utter_repair_submitted"
        dispatcher.utter_message(response=response, **submitted_message(ticket, language))
        return [SlotSet(s, None) for s in [*REPAIR_SLOTS, "emergency", "attachments"]]
