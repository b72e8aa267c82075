"""Answering the questionnaire: one 1-5 score per configured area, then a comment.

The dialogue's form (``evaluation_form``, ``bot/actions/evaluation.py``) asks one area at a
time and calls these functions, which keep the answers on the household's target row; a score
at or below ``evaluation.low_score`` opens a complaint ticket (category ``evaluation``) so that
staff follow it up within the complaint SLA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.evaluation.models import EvaluationCampaign, EvaluationTarget, TargetStatus
from bot.followups.deadlines import apply_deadlines
from bot.store.models import Conversation
from bot.tickets.service import add_event, open_ticket

TASK_CATEGORY = "evaluation"


def area_label(area: str) -> str:
    """The slot value that shows an area in the chat's language (a response reference)."""
    return f"@utter_evaluation_area_{area}"


@dataclass
class Open:
    """A household's questionnaire that still takes answers."""

    target: EvaluationTarget
    campaign: EvaluationCampaign

    def next_area(self) -> str | None:
        """The first configured area without a score yet (None: all scored)."""
        scored = self.target.scores or {}
        return next((a for a in self.campaign.areas if a not in scored), None)


async def open_questionnaire(
    session: AsyncSession, target_id: object, conversation_id: object, now: datetime
) -> Open | None:
    """The target of this chat, if its campaign is still open and it is not answered yet."""
    try:
        target = await session.get(EvaluationTarget, int(str(target_id)))
    except ValueError:
        return None
    if target is None or target.conversation_id != conversation_id:
        return None
    campaign = await session.get(EvaluationCampaign, target.campaign_id)
    if campaign is None or campaign.closed_at is not None or now >= campaign.closes_at:
        return None
    if target.status not in (TargetStatus.ASKED, TargetStatus.PENDING):
        return None
    return Open(target, campaign)


def record_score(found: Open, area: str, score: int) -> str | None:
    """Keep ``score`` for ``area``; returns the next area to ask (None: go to the comment)."""
    found.target.scores = {**(found.target.scores or {}), area: int(score)}
    return found.next_area()


async def finish(
    session: AsyncSession, found: Open, comment: str | None, *, settings: Settings, now: datetime
) -> str | None:
    """All scored: store the comment, mark answered, open a task for low scores. Returns the
    task's ticket number, if one was opened."""
    target = found.target
    target.comment = comment or None
    target.status = TargetStatus.ANSWERED
    target.answered_at = now
    low = {
        a: s for a, s in (target.scores or {}).items() if int(s) <= settings.evaluation.low_score
    }
    if not low:
        return None
    conversation = (
        await session.get(Conversation, target.conversation_id) if target.conversation_id else None
    )
    scores = ", ".join(f"{area} {score}" for area, score in low.items())
    ticket = await open_ticket(
        session,
        kind="complaint",
        category=TASK_CATEGORY,
        now=now,
        actor="system",
        description=f"{found.campaign.quarter} owner evaluation: {scores}. {comment or ''}".strip(),
        unit=target.unit_display,
        contact_id=conversation.contact_id if conversation else None,
        conversation_id=target.conversation_id,
        language=conversation.language if conversation else None,
        details={"evaluation": found.campaign.quarter, "scores": dict(target.scores or {})},
    )
    await add_event(
        session, ticket, actor="system", action="evaluation_low_score", now=now, data={"low": low}
    )
    await apply_deadlines(session, ticket, settings, now)
    target.task_ticket = ticket.number
    return ticket.number
