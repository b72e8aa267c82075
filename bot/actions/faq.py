"""Answering questions from the FAQ in ``dialogues/faq.yml`` (Rasa retrieval intents)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import runtime
from bot.actions.facts import office_values


def best_faq(tracker: Tracker, threshold: float) -> str | None:
    """The ``utter_inquiry/<topic>`` response for the latest message, if confident enough."""
    selector = (tracker.latest_message.get("response_selector") or {}).get("inquiry") or {}
    response = selector.get("response") or {}
    key = response.get("intent_response_key")
    if not key or float(response.get("confidence") or 0.0) < threshold:
        return None
    return f"utter_{key}"


class ActionAnswerFaq(Action):
    """Answer from the FAQ; an unknown question is said to be unknown and a human offered."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        settings = runtime.services().settings
        threshold = settings.nlu.faq_threshold
        response = best_faq(tracker, threshold)
        interrupting = bool((tracker.latest_message.get("metadata") or {}).get("interrupt"))
        if response and response in (domain.get("responses") or {}):
            # Answers quote the office's hours and hotline from config (bot.actions.facts).
            dispatcher.utter_message(response=response, **office_values(settings))
            return []
        if interrupting:
            # Inside a form: let the engine treat the message as an answer instead.
            return [ActionExecutionRejected(self.name())]
        dispatcher.utter_message(response="utter_faq_unknown")
        return []
