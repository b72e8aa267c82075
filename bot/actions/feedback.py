"""Feedback (建議、表揚): a suggestion or praise is recorded as its own ticket and thanked.

One question at most: when the first message only says "I have a suggestion", Kefu asks what
it is; otherwise the message itself is the feedback. The ticket (``F-…``, kind ``feedback``,
category ``praise`` / ``suggestion`` / ``other``) lets the office pass it on and count it.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.forms import MAX_DETAIL_CHARS, meaningful, slot_text, tracker_now
from bot.actions.known import contact_unit
from bot.actions.tickets import open_ticket_from_form, submitted_message
from bot.store.models import TicketKind

FEEDBACK_SLOTS = ["feedback_details", "feedback_category"]
FEEDBACK_CATEGORIES = ("praise", "suggestion")

# Words that only announce feedback ("我有個建議", "I'd like to give some feedback"): a message
# made of nothing else is asked about. Matching only; nothing here is shown to users.
_ANNOUNCE = re.compile(
    r"(建議|建议|提議|提议|意見|意见|表揚|表扬|讚賞|赞赏|稱讚|称赞|讚|赞|反映|參考|参考|"
    r"管理處|管理处|物業|物业|你哋|你們|你们|我|有|個|个|啲|些|點|点|小小|一下|吓|下|提|給|给|"
    r"俾|畀|想|要|嘅|的|\bhave\b|\bsome\b|\bmake\b|\bgive\b|\bsuggestions?\b|\bfeedback\b|"
    r"\bpraise\b|\bcompliments?\b|\bidea\b|\bfor\b|\bthe\b|\bmanagement\b|\boffice\b|\byou\b|"
    r"\bjust\b|\bsmall\b|\blittle\b|\bi'?d\b|[:：,，.。!！])",
    re.I,
)


def says_something(text: str) -> bool:
    """Whether ``text`` holds the feedback itself, not only "I have a suggestion"."""
    return meaningful(_ANNOUNCE.sub("", text))


class ValidateFeedbackForm(FormValidationAction):
    """Keeps the feedback when it says something; otherwise the form asks what it is."""

    def name(self) -> str:
        return "validate_feedback_form"

    def validate_feedback_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = slot_text(value)
        if text.startswith("/") or not says_something(text):
            if tracker.get_slot("requested_slot") == "feedback_details":
                dispatcher.utter_message(response="utter_ask_feedback_details_more")
            return {"feedback_details": None}
        return {"feedback_details": text[:MAX_DETAIL_CHARS]}

    def validate_feedback_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"feedback_category": value if value in FEEDBACK_CATEGORIES else None}


class ActionSubmitFeedback(Action):
    """Opens the feedback ticket and thanks the user for it."""

    def name(self) -> str:
        return "action_submit_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = tracker.get_slot("language") or "zh-Hant"
        category = tracker.get_slot("feedback_category") or _category_in(tracker) or "other"
        contact_id = (tracker.latest_message.get("metadata") or {}).get("contact_id")
        ticket = await open_ticket_from_form(
            tracker,
            kind=TicketKind.FEEDBACK,
            category=category,
            description=slot_text(tracker.get_slot("feedback_details")),
            unit=await contact_unit(contact_id, now=tracker_now(tracker)),
            priority="low",
        )
        dispatcher.utter_message(
            response=f"utter_feedback_thanks_{category}", **submitted_message(ticket, language)
        )
        return [SlotSet(s, None) for s in [*FEEDBACK_SLOTS, "attachments"]]


def _category_in(tracker: Tracker) -> str | None:
    """The kind of feedback named in the latest message (the answer to "what is it?")."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "feedback_category" and entity.get("value") in (
            FEEDBACK_CATEGORIES
        ):
            return str(entity["value"])
    return None
