"""The owner evaluation form (業主評議): a 1-5 score per area, one area at a time, then a
comment. Thin glue over :mod:`bot.evaluation.questionnaire`; every sentence is in
``dialogues/evaluation.yml``."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import runtime
from bot.actions.forms import slot_text, tracker_now
from bot.actions.survey import parse_score
from bot.evaluation.questionnaire import area_label, finish, open_questionnaire, record_score

EVALUATION_SLOTS = [
    "evaluation_target",
    "evaluation_area",
    "evaluation_area_label",
    "evaluation_score",
    "evaluation_comment",
]
_SKIP = {"-", "no", "none", "nothing", "冇", "沒有", "没有", "無", "无", "唔使", "不用"}


class ValidateEvaluationForm(FormValidationAction):
    """Keeps each area's score as it comes and asks the next area until all are scored."""

    def name(self) -> str:
        return "validate_evaluation_form"

    async def validate_evaluation_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        score = parse_score(value)
        if score is None:
            dispatcher.utter_message(response="utter_invalid_evaluation_score")
            return {"evaluation_score": None}
        meta = tracker.latest_message.get("metadata") or {}
        async with runtime.transaction() as session:
            found = await open_questionnaire(
                session,
                tracker.get_slot("evaluation_target"),
                meta.get("conversation_id"),
                tracker_now(tracker),
            )
            if found is None:
                dispatcher.utter_message(response="utter_evaluation_closed")
                return {"evaluation_score": score, "evaluation_comment": "-"}
            area = str(tracker.get_slot("evaluation_area") or found.next_area() or "")
            following = record_score(found, area, score)
        if following is None:
            return {"evaluation_score": score}
        return {
            "evaluation_score": None,
            "requested_slot": "evaluation_score",  # the next area: asked again on purpose
            "evaluation_area": following,
            "evaluation_area_label": area_label(following),
        }

    def validate_evaluation_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"evaluation_comment": slot_text(value)[:1000] or "-"}


class ActionSubmitEvaluation(Action):
    """All areas scored and the comment given: the household has answered."""

    def name(self) -> str:
        return "action_submit_evaluation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reset: list[EventType] = [SlotSet(s, None) for s in EVALUATION_SLOTS]
        meta = tracker.latest_message.get("metadata") or {}
        now = tracker_now(tracker)
        comment = slot_text(tracker.get_slot("evaluation_comment"))
        async with runtime.transaction() as session:
            found = await open_questionnaire(
                session, tracker.get_slot("evaluation_target"), meta.get("conversation_id"), now
            )
            if found is None or found.next_area() is not None:
                dispatcher.utter_message(response="utter_evaluation_closed")
                return reset
            await finish(
                session,
                found,
                None if comment.strip().lower() in _SKIP else comment,
                settings=runtime.services().settings,
                now=now,
            )
        dispatcher.utter_message(response="utter_evaluation_thanks")
        return reset
