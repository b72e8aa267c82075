"""The call-back survey form: rating, fixed or not, comment; a bad answer reopens the ticket."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from bot.actions import runtime
from bot.actions.display import when_text
from bot.actions.forms import slot_text, tracker_now
from bot.events import SurveyAnswered, publish
from bot.store.models import Ticket, TicketKind
from bot.tickets import add_event
from bot.tickets.lifecycle import reopen_ticket

SURVEY_SLOTS = ["survey_ticket", "survey_score", "survey_fixed", "survey_comment"]
_CN_DIGITS = {"一": 1, "二": 2, "兩": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_STAR = re.compile(r"[⭐★🌟]")


def parse_score(value: Any) -> int | None:
    """A 1–5 rating from a button value, a digit, a Chinese numeral or stars."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and 1 <= value <= 5 and float(value).is_integer():
        return int(value)
    text = slot_text(value)
    stars = len(_STAR.findall(text))
    if 1 <= stars <= 5 and not re.search(r"\d", text):
        return stars
    digits = re.findall(r"(?<!\d)([1-5])(?!\d)", text)
    if len(set(digits)) == 1 and not re.search(r"\d{2,}", text):
        return int(digits[0])
    numerals = [n for ch, n in _CN_DIGITS.items() if ch in text]
    if len(set(numerals)) == 1 and len(text) <= 6:
        return numerals[0]
    return None


class ValidateSurveyForm(FormValidationAction):
    """Understands ratings in any form and "fixed or not" answers."""

    def name(self) -> str:
        return "validate_survey_form"

    async def validate_survey_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        score = parse_score(value)
        if score is None:
            dispatcher.utter_message(response="utter_invalid_survey_score")
            return {"survey_score": None}
        if await _answered_already(tracker):
            # Staff recorded the call-back by phone meanwhile: end the form at once (the submit
            # says the survey is complete) instead of asking the other questions.
            return {"survey_score": score, "survey_fixed": True, "survey_comment": "-"}
        return {"survey_score": score}

    def validate_survey_fixed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"survey_fixed": value}
        dispatcher.utter_message(response="utter_invalid_survey_fixed")
        return {"survey_fixed": None}

    def validate_survey_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"survey_comment": slot_text(value)[:1000] or "-"}


async def _answered_already(tracker: Tracker) -> bool:
    """The survey's ticket has a call-back answer (e.g. staff phoned the customer)."""
    meta = tracker.latest_message.get("metadata") or {}
    async with runtime.transaction() as session:
        score = (
            await session.execute(
                select(Ticket.survey_score).where(
                    Ticket.number == str(tracker.get_slot("survey_ticket") or ""),
                    Ticket.contact_id == meta.get("contact_id"),
                )
            )
        ).scalar_one_or_none()
    return score is not None


class ActionSubmitSurvey(Action):
    """Stores the answers on the ticket; a low score or "not fixed" reopens it for rework."""

    def name(self) -> str:
        return "action_submit_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        from bot.followups.sla import start_rework, survey_answered

        services = runtime.services()
        meta = tracker.latest_message.get("metadata") or {}
        now = tracker_now(tracker)
        reset = [SlotSet(s, None) for s in SURVEY_SLOTS]
        score = parse_score(tracker.get_slot("survey_score"))
        fixed = tracker.get_slot("survey_fixed")
        comment = tracker.get_slot("survey_comment")
        async with runtime.transaction() as session:
            ticket = (
                await session.execute(
                    select(Ticket).where(
                        Ticket.number == str(tracker.get_slot("survey_ticket") or ""),
                        Ticket.contact_id == meta.get("contact_id"),  # only the customer's own
                    )
                )
            ).scalar_one_or_none()
            if ticket is None or ticket.survey_score is not None:
                dispatcher.utter_message(response="utter_survey_closed")
                return reset
            ticket.survey_score = score
            ticket.survey_fixed = fixed
            ticket.survey_comment = None if comment in (None, "-") else str(comment)
            ticket.updated_at = now
            actor = f"user:{meta.get('contact_id')}"
            await add_event(
                session,
                ticket,
                actor=actor,
                action="survey_answered",
                now=now,
                data={"score": score, "fixed": fixed, "comment": ticket.survey_comment},
            )
            await survey_answered(session, ticket, now)
            await publish(session, SurveyAnswered(ticket.id, ticket.number, score, fixed, now))
            bad = fixed is False or (
                score is not None and score <= services.settings.sla.rework_score
            )
            if not bad:
                dispatcher.utter_message(response="utter_survey_thanks")
                return reset
            await reopen_ticket(
                session, ticket, settings=services.settings, now=now, actor=actor, reason="survey"
            )
            if ticket.kind == TicketKind.COMPLAINT:  # no rework order: a supervisor is told
                dispatcher.utter_message(
                    response="utter_complaint_survey_reopened", ticket_number=ticket.number
                )
                return [*reset, SlotSet("escalate_reason", f"survey:{ticket.number}")]
            due = await start_rework(session, ticket, services.settings, now, actor=actor)
        dispatcher.utter_message(
            response="utter_survey_rework",
            ticket_number=ticket.number,
            rework_by=when_text(due.astimezone(services.clock.tz)),
        )
        return [*reset, SlotSet("escalate_reason", f"survey:{ticket.number}")]
