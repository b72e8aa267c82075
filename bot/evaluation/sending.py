"""Follow-up handlers of the evaluation: start the quarter, ask a household, remind it once,
close the campaign. Asking opens ``evaluation_form`` through the dialogue engine (handed in
by the app as a form starter), in the follow-up's transaction."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.evaluation.campaign import (
    ASK_KIND,
    CLOSE_KIND,
    REMINDER_KIND,
    START_KIND,
    close_campaign,
    seed_campaign,
    start_campaign,
)
from bot.evaluation.models import EvaluationCampaign, EvaluationTarget, TargetStatus
from bot.evaluation.quarters import quarter_of
from bot.evaluation.questionnaire import Open, area_label
from bot.evaluation.report import schedule_summary
from bot.followups.models import Followup
from bot.followups.survey import BUSY_RETRY, FormStarter
from bot.followups.worker import RetryLater

FORM = "evaluation_form"
log = logging.getLogger(__name__)


class StartHandler:
    """``evaluation_start``: sample and store the quarter's campaign."""

    transactional = True

    def __init__(self, settings: Settings, clock_now: Any) -> None:
        self.settings = settings
        self.clock_now = clock_now

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Start the campaign of the follow-up's quarter (idempotent)."""
        quarter = str((followup.payload or {})["quarter"])
        now = self.clock_now()
        if quarter_of(now.astimezone(self.settings.tz).date()) != quarter:
            log.warning("owner evaluation %s not started: the quarter is over", quarter)
            return
        await start_campaign(session, quarter, settings=self.settings, now=now)


class AskHandler:
    """``evaluation_ask`` / ``evaluation_reminder``: open the form in the household's chat."""

    transactional = True

    def __init__(
        self,
        engine: FormStarter,
        busy: tuple[type[Exception], ...],
        clock_now: Any,
        *,
        reminder: bool,
    ) -> None:
        self.engine = engine
        self.busy = busy
        self.clock_now = clock_now
        self.reminder = reminder

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Ask (or remind) unless answered, closed, or the chat is gone."""
        now: datetime = self.clock_now()
        target = await session.get(EvaluationTarget, int((followup.payload or {})["target"]))
        if target is None or target.conversation_id is None:
            return
        campaign = await session.get(EvaluationCampaign, target.campaign_id)
        if campaign is None or campaign.closed_at is not None or now >= campaign.closes_at:
            return
        if target.status not in (TargetStatus.PENDING, TargetStatus.ASKED):
            return
        area = Open(target, campaign).next_area() or campaign.areas[0]
        try:
            await self.engine.start_form(
                session,
                target.conversation_id,
                FORM,
                slots={
                    "evaluation_target": str(target.id),
                    "evaluation_area": area,
                    "evaluation_area_label": area_label(area),
                },
                response="utter_evaluation_reminder"
                if self.reminder
                else "utter_evaluation_invite",
                values={"quarter": campaign.quarter, "unit": target.unit_display},
            )
        except self.busy as exc:
            raise RetryLater(str(exc), after=BUSY_RETRY) from exc
        if self.reminder:
            target.reminded_at = now
        else:
            target.status = TargetStatus.ASKED
            target.asked_at = now


class CloseHandler:
    """``evaluation_close``: close the campaign, store its summary and schedule its post to
    the managers' chat (:mod:`bot.evaluation.report`)."""

    transactional = True

    def __init__(self, clock_now: Any, settings: Settings | None = None) -> None:
        self.clock_now = clock_now
        self.settings = settings

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Close (idempotent)."""
        campaign = await session.get(EvaluationCampaign, int((followup.payload or {})["campaign"]))
        if campaign is None or campaign.closed_at is not None:
            return
        now = self.clock_now()
        low = self.settings.evaluation.low_score if self.settings else 2
        await close_campaign(session, campaign, now, low_score=low)
        if self.settings is not None:
            await schedule_summary(session, campaign, self.settings, now)
        summary = campaign.summary or {}
        rate = summary.get("response_rate")
        log.info(
            "owner evaluation %s closed: %s of %s answered (%s); `kefu evaluation summary %s`",
            campaign.quarter,
            summary.get("answered"),
            summary.get("sampled"),
            "-" if rate is None else f"{rate * 100:.1f}%",
            campaign.quarter,
        )


def attach_evaluation(
    worker: Any,
    engine: FormStarter,
    busy: tuple[type[Exception], ...],
    settings: Settings,
    clock: Any,
) -> None:
    """Give a follow-up worker the evaluation's handlers and its quarterly seed."""
    worker.handlers.update(
        {
            START_KIND: StartHandler(settings, clock.now),
            ASK_KIND: AskHandler(engine, busy, clock.now, reminder=False),
            REMINDER_KIND: AskHandler(engine, busy, clock.now, reminder=True),
            CLOSE_KIND: CloseHandler(clock.now, settings),
        }
    )

    async def seed(session: AsyncSession, now: datetime) -> None:
        await seed_campaign(session, now, settings)

    worker.add_seed(seed)
