"""Conversation-level actions: welcome, language, clarification, hand-over to a human."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActiveLoop,
    ConversationPaused,
    EventType,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

LANGUAGES = ("zh-Hant", "zh-Hans", "en")
# Intents offered as buttons when the NLU is unsure.
CLARIFIABLE = ("repair", "complaint", "inquiry", "order", "payment", "human", "my_tickets")


class ActionStart(Action):
    """``/start``: welcome and the choice of language."""

    def name(self) -> str:
        return "action_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_welcome")
        dispatcher.utter_message(response="utter_choose_language")
        return []


class ActionSetLanguage(Action):
    """A language button (``/set_language{"language": "en"}``) or ``/lang en``."""

    def name(self) -> str:
        return "action_set_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        wanted = _language_from(tracker)
        if wanted not in LANGUAGES:
            dispatcher.utter_message(response="utter_choose_language")
            return []
        # The confirmation must already be in the new language: set the slot first.
        return [SlotSet("language", wanted), _followup("utter_language_set")]


def _followup(response: str) -> dict[str, Any]:
    return {"event": "followup", "name": response}


def _language_from(tracker: Tracker) -> str | None:
    for entity in tracker.latest_message.get("entities", []):
        if entity.get("entity") == "language":
            return str(entity.get("value"))
    args = str(tracker.latest_message.get("command_args") or "").strip().lower()
    aliases = {
        "zh-hant": "zh-Hant",
        "繁": "zh-Hant",
        "繁體": "zh-Hant",
        "hk": "zh-Hant",
        "tw": "zh-Hant",
        "zh-hans": "zh-Hans",
        "简": "zh-Hans",
        "简体": "zh-Hans",
        "cn": "zh-Hans",
        "en": "en",
        "english": "en",
    }
    return aliases.get(args)


class ActionChooseLanguage(Action):
    """``/lang`` with or without an argument."""

    def name(self) -> str:
        return "action_choose_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        wanted = _language_from(tracker)
        if wanted in LANGUAGES:
            return [SlotSet("language", wanted), _followup("utter_language_set")]
        dispatcher.utter_message(response="utter_choose_language")
        return []


class ActionClarify(Action):
    """The NLU is unsure: offer the two likeliest intents as buttons."""

    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        names = [r["name"] for r in ranking if r.get("name") in CLARIFIABLE][:2]
        if not names:
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        buttons = [{"title": f"@utter_intent_{n}", "payload": f"/{n}"} for n in names]
        buttons.append({"title": "@utter_button_none_of_these", "payload": "/out_of_scope"})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return [SlotSet("pending_text", tracker.latest_message.get("text"))]


class ActionOfferHuman(Action):
    """Offer a person after repeated misunderstanding or failed answers."""

    def name(self) -> str:
        return "action_offer_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_offer_human")
        return []


class ActionHandoff(Action):
    """Put the conversation in the queue for a human agent and say so."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = []
        if tracker.active_loop.get("name"):
            events.append(ActiveLoop(None))
        dispatcher.utter_message(response="utter_handoff")
        events.append(ConversationPaused())
        await _announce_escalation(tracker)
        return events


async def _announce_escalation(tracker: Tracker) -> None:
    """Raise :class:`~bot.events.Escalated` with why (the customer asked, or Kefu kept
    misunderstanding): the agents' desk opens the topic for that reason."""
    from bot.actions import runtime
    from bot.actions.forms import tracker_now
    from bot.events import Escalated, EscalationReason, publish

    meta = tracker.latest_message.get("metadata") or {}
    if not meta.get("conversation_id"):
        return
    reason = (
        EscalationReason.FALLBACK if meta.get("reason") == "fallback" else EscalationReason.HUMAN
    )
    async with runtime.transaction() as session:
        event = Escalated(int(meta["conversation_id"]), reason, tracker_now(tracker))
        await publish(session, event)


class ActionCancel(Action):
    """``/cancel`` or 「算了」: leave the form, or say there is nothing to cancel."""

    def name(self) -> str:
        return "action_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        from bot.actions.ticket_status import (
            ActionExistingTicket,
            answer_with_cancel,
            mentions_ticket,
        )

        if tracker.active_loop.get("name") == "ticket_cancel_form":
            return await answer_with_cancel(dispatcher, tracker)
        if tracker.active_loop.get("name"):
            dispatcher.utter_message(response="utter_form_cancelled")
            return [ActiveLoop(None)]
        if mentions_ticket(tracker):
            # 「唔使整啦 取消張單」, "cancel that ticket": a ticket already opened.
            return await ActionExistingTicket().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_nothing_to_cancel")
        return []
