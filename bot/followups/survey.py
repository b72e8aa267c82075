"""Sending the call-back survey (and its reminder) when the follow-up is due."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.followups.models import Followup, FollowupKind
from bot.followups.worker import RetryLater
from bot.store.models import Contact, Ticket

log = logging.getLogger(__name__)

SURVEY_FORM = "survey_form"
BUSY_RETRY = timedelta(minutes=15)


class FormStarter(Protocol):
    """What asks the question: the dialogue engine (:meth:`bot.dialogue.engine.Engine.start_form`),
    handed in by the app, so that follow-ups never import the dialogue above them."""

    async def start_form(
        self,
        session: AsyncSession,
        conversation_id: int,
        form: str,
        *,
        slots: dict[str, Any],
        response: str,
        values: dict[str, Any] | None = None,
    ) -> Any: ...


class SurveyHandler:
    """Opens the survey form in the customer's conversation and asks for a rating.

    The question is written to the outbox in the follow-up's transaction, so it is sent once
    (by the channel's outbox delivery) even if the worker crashes right after.
    """

    # Every effect goes through the follow-up's session (the outbox row, the form): the worker
    # may run a batch of surveys in one transaction.
    transactional = True

    def __init__(
        self,
        engine: FormStarter,
        *,
        busy: tuple[type[Exception], ...],
        reminder: bool = False,
    ) -> None:
        self.engine = engine
        self.busy = busy  # what the engine raises when the conversation cannot take the form
        self.reminder = reminder

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Ask the survey question unless it no longer applies."""
        ticket = await session.get(Ticket, followup.ticket_id) if followup.ticket_id else None
        if ticket is None or ticket.survey_score is not None:
            return
        if not ticket.is_done:
            return  # reopened since: the survey waits for the next resolution
        if ticket.conversation_id is None or ticket.contact_id is None:
            return  # no chat to ask in: the phone call-back task covers it
        contact = await session.get(Contact, ticket.contact_id)
        if contact is None or contact.unreachable:
            return
        response = "utter_survey_reminder" if self.reminder else "utter_ask_survey_score"
        if ticket.kind == "complaint":  # asks about the handling, not a repair
            response = response.replace("survey", "complaint_survey")
        try:
            await self.engine.start_form(
                session,
                ticket.conversation_id,
                SURVEY_FORM,
                slots={"survey_ticket": ticket.number},
                response=response,
                values={"ticket_number": ticket.number, "description": ticket.description[:60]},
            )
        except self.busy as exc:
            # The customer is in the middle of something (or with an agent): ask later, without
            # counting it as a failure.
            raise RetryLater(str(exc), after=BUSY_RETRY) from exc


def survey_handlers(
    engine: FormStarter, *, busy: tuple[type[Exception], ...]
) -> dict[str, SurveyHandler]:
    """Handlers for the customer-facing survey follow-ups; ``busy`` are the exceptions by which
    ``engine`` says the conversation is in the middle of something (asked again later)."""
    return {
        FollowupKind.SURVEY: SurveyHandler(engine, busy=busy),
        FollowupKind.SURVEY_REMINDER: SurveyHandler(engine, busy=busy, reminder=True),
    }
