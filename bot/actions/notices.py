"""Residents and notices: "最近有咩通告" / "any notices this week?" lists the current notices of
their units; 「唔想再收通告」 opts out of ordinary notices after a confirmation (urgent ones still
come), and 「我想再收通告」 undoes it. Every sentence is in ``dialogues/notices.yml``."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import runtime
from bot.actions.display import when_text
from bot.actions.forms import tracker_now
from bot.notices.service import current_notices, opt_in, opt_out, pick_text

MAX_SHOWN = 5


def _contact_id(tracker: Tracker) -> int | None:
    value = (tracker.latest_message.get("metadata") or {}).get("contact_id")
    return int(value) if value else None


class ActionNoticesRecent(Action):
    """The notices current for the chat's units, newest first."""

    def name(self) -> str:
        return "action_notices_recent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        contact_id = _contact_id(tracker)
        services = runtime.services()
        language = str(tracker.get_slot("language") or services.settings.default_language)
        if contact_id is None:
            dispatcher.utter_message(response="utter_notices_none")
            return []
        async with runtime.transaction() as session:
            notices = await current_notices(
                session, contact_id, now=tracker_now(tracker), settings=services.settings
            )
        if not notices:
            dispatcher.utter_message(response="utter_notices_none")
            return []
        default = services.settings.default_language
        items: list[Any] = [
            {
                "response": "utter_notices_item",
                "values": {
                    "title": pick_text(n.title, language, default),
                    "body": pick_text(n.body, language, default),
                    "date": when_text(n.send_at),
                },
            }
            for n in notices[:MAX_SHOWN]
        ]
        dispatcher.utter_message(response="utter_notices_list", notices=items)
        return []


class ActionNoticesOptOutAsk(Action):
    """Asks before opting out: a notice missed can matter (a lift out of service)."""

    def name(self) -> str:
        return "action_notices_optout_ask"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_notices_optout_confirm")
        return []


class ActionNoticesOptOut(Action):
    """Opts the chat's contact out of ordinary notices (urgent ones still come)."""

    def name(self) -> str:
        return "action_notices_optout"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        contact_id = _contact_id(tracker)
        if contact_id is not None:
            async with runtime.transaction() as session:
                await opt_out(session, contact_id, now=tracker_now(tracker))
        dispatcher.utter_message(response="utter_notices_optout_done")
        return []


class ActionNoticesOptIn(Action):
    """Undoes an opt-out."""

    def name(self) -> str:
        return "action_notices_optin"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        contact_id = _contact_id(tracker)
        if contact_id is not None:
            async with runtime.transaction() as session:
                await opt_in(session, contact_id)
        dispatcher.utter_message(response="utter_notices_optin_done")
        return []
