"""The owner evaluation's summary to the managers' chat (業主評議表匯總分析, issue #15).

A campaign's close stores its summary; by ``evaluation.summary_day`` of the month after the
quarter (at ``reports.send_at``) the office reports it up. Each campaign's post is one
``evaluation_summary`` follow-up keyed by the campaign (``evaluation_summary:7``): scheduled at
close, and again (a no-op) at every start and once a day, so a chat configured after the close
still gets it; claimed under a lease by ``kefu run``'s worker, done once posted, retried when
Telegram fails (at least once, never lost), as the scheduled service reports are.

The words are the report's (``utter_report_evaluation_*`` in ``dialogues/reports.yml``, in
``reports.language``) and the areas' names are the questionnaire's (``utter_evaluation_area_*``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.evaluation.models import EvaluationCampaign
from bot.evaluation.quarters import parse_quarter, shift
from bot.evaluation.summary import summarize
from bot.followups.models import Followup
from bot.followups.service import schedule
from bot.reports.labels import Labels
from bot.reports.schedule import Poster
from bot.store.db import Database

log = logging.getLogger(__name__)

SUMMARY_KIND = "evaluation_summary"
CATCH_UP = timedelta(days=28)  # a missed summary is still posted this long after its day
COMMENTS_SHOWN = 20  # the rest: `kefu evaluation summary QUARTER`
_SCALE = re.compile(r"\s*[（(]\s*1\s*[-–至]\s*5[^)）]*[)）]\s*$")  # "Security (1-5)" -> "Security"


def summary_time(quarter: str, settings: Settings) -> datetime:
    """``evaluation.summary_day`` of the month after the quarter, at ``reports.send_at``."""
    year, q = parse_quarter(quarter)
    month = q * 3 + 1
    year, month = (year + 1, 1) if month > 12 else (year, month)
    at = settings.reports.send_at
    return datetime(year, month, settings.evaluation.summary_day, at.hour, at.minute,
                    tzinfo=settings.tz)  # fmt: skip


async def schedule_summary(
    session: AsyncSession, campaign: EvaluationCampaign, settings: Settings, now: datetime
) -> Followup | None:
    """Schedule the closed campaign's post (once per campaign); None without a managers'
    chat or while the campaign is open."""
    chat = settings.reports.managers_chat_id
    if chat is None or campaign.closed_at is None:
        return None
    return await schedule(
        session,
        kind=SUMMARY_KIND,
        due_at=summary_time(campaign.quarter, settings),
        idempotency_key=f"{SUMMARY_KIND}:{campaign.id}",
        now=now,
        payload={"campaign": campaign.id, "chat_id": chat},
        to_customer=False,
    )


async def ensure_summaries(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """Schedule the post of the latest closed campaign if it is not yet, unless its summary
    day is more than :data:`CATCH_UP` past: a chat configured in the middle of a quarter gets
    no summary of the last one (``kefu evaluation summary`` has it)."""
    if settings.reports.managers_chat_id is None:
        return
    latest = await session.scalar(
        select(EvaluationCampaign)
        .where(EvaluationCampaign.closed_at.is_not(None))
        .order_by(EvaluationCampaign.quarter.desc())
        .limit(1)
    )
    if latest is not None and now < summary_time(latest.quarter, settings) + CATCH_UP:
        await schedule_summary(session, latest, settings, now)


def _area(labels: Labels, area: str) -> str:
    return _SCALE.sub("", labels.texts.get(f"area:{area}", area)) or area


def _score(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}"


def _change(value: Any) -> str:
    return "" if value is None else f" ({float(value):+.2f})"


def _ordered(scores: Mapping[str, Any], order: list[str]) -> list[tuple[str, Any]]:
    """The scores in the campaign's order of areas (PostgreSQL's JSONB keeps no key order)."""
    known = [a for a in order if a in scores]
    return [(a, scores[a]) for a in known + sorted(set(scores) - set(known))]


def render_summary(
    summary: Mapping[str, Any], labels: Labels, low_score: int, areas: list[str] | None = None
) -> str:
    """The summary as the managers read it: response rate, score per area (in the order of
    ``areas``) and the change against the previous quarter, per building, the low scores and
    the comments."""
    order = list(areas or [])
    quarter = str(summary.get("quarter", ""))
    rate = summary.get("response_rate")
    lines = [
        labels("evaluation_title", quarter=quarter),
        labels(
            "evaluation_response",
            households=summary.get("households", 0),
            sampled=summary.get("sampled", 0),
            chat=summary.get("by_chat", 0),
            phone=summary.get("by_phone", 0),
            answered=summary.get("answered", 0),
            rate="n/a" if rate is None else f"{float(rate) * 100:.1f}%",
        ),
        "",
    ]
    change: Mapping[str, Any] = summary.get("change") or {}
    heading = "evaluation_scores_change" if summary.get("previous") else "evaluation_scores"
    lines.append(labels(heading, previous=shift(quarter, -1) if quarter else "") + ":")
    for area, score in _ordered(summary.get("areas") or {}, order):
        lines.append(f"  {_area(labels, area)}: {_score(score)}{_change(change.get(area))}")
    buildings: Mapping[str, Mapping[str, Any]] = summary.get("buildings") or {}
    if buildings:
        lines += ["", labels("by_building") + ":"]
        for block, scores in sorted(buildings.items()):
            cells = "; ".join(f"{_area(labels, a)} {_score(s)}" for a, s in _ordered(scores, order))
            lines.append(f"  {labels.building(block)}: {cells}")
    low = list(summary.get("low") or [])
    if low:
        lines += ["", labels("evaluation_low", score=low_score, count=len(low)) + ":"]
        lines += [f"  {r['unit']}: {_area(labels, r['area'])} {r['score']}" for r in low]
    comments = list(summary.get("comments") or [])
    if comments:
        lines += ["", labels("evaluation_comments", count=len(comments)) + ":"]
        for row in comments[:COMMENTS_SHOWN]:
            text = " ".join(str(row.get("comment", "")).split())
            lines.append(f"  {row.get('unit', '')}: {text[:300]}")
        if len(comments) > COMMENTS_SHOWN:
            lines.append("  " + labels("evaluation_more", count=len(comments) - COMMENTS_SHOWN))
    lines += ["", labels("evaluation_details", quarter=quarter)]
    return "\n".join(lines)


class SummaryHandler:
    """Posts a closed campaign's summary to the managers' chat."""

    def __init__(self, settings: Settings, poster: Poster) -> None:
        self.settings = settings
        self.poster = poster

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Post the summary ``followup`` stands for (the stored one; computed if missing)."""
        payload: dict[str, Any] = dict(followup.payload or {})
        settings = self.settings
        try:
            campaign = await session.get(EvaluationCampaign, int(payload["campaign"]))
            chat_id = int(payload.get("chat_id") or settings.reports.managers_chat_id or 0)
        except (KeyError, TypeError, ValueError):
            log.error("evaluation summary %s has a bad payload: %s", followup.id, payload)
            return
        if campaign is None or not chat_id:
            return
        summary = dict(campaign.summary or {})
        if "areas" not in summary:
            low = settings.evaluation.low_score
            summary.update((await summarize(session, campaign, low_score=low)).as_dict())
        language = settings.reports.language or settings.default_language
        labels = Labels.load(settings.dialogues_dir, language)
        text = render_summary(
            summary, labels, settings.evaluation.low_score, list(campaign.areas or [])
        )
        await self.poster.post(chat_id, text, [], None)


async def attach_evaluation_summary(
    worker: Any, db: Database, settings: Settings, poster: Poster, clock: Clock | None = None
) -> bool:
    """Make ``kefu run``'s follow-up worker post the evaluation summaries, and schedule the
    latest closed campaign's if it is missing (at start, then daily). False (nothing done)
    without ``reports.managers_chat_id``."""
    if settings.reports.managers_chat_id is None:
        return False
    worker.handlers[SUMMARY_KIND] = SummaryHandler(settings, poster)

    async def seed(session: AsyncSession, now: datetime) -> None:
        await ensure_summaries(session, settings, now)

    worker.add_seed(seed)
    now = (clock or worker.clock).now()
    async with db.write() as session:
        await ensure_summaries(session, settings, now)
    return True
