"""Status and summary of a campaign: response rate, who is missing, scores per area and
building, comments, and the change against the previous quarter (業主評議表匯總分析)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.evaluation.models import EvaluationCampaign, EvaluationTarget, TargetStatus
from bot.evaluation.quarters import shift


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


@dataclass
class Summary:
    """What the office reports up by the 5th of the next month."""

    quarter: str
    households: int
    sampled: int
    by_chat: int
    by_phone: int
    answered: int
    response_rate: float | None
    areas: dict[str, float | None] = field(default_factory=dict)
    buildings: dict[str, dict[str, float | None]] = field(default_factory=dict)
    previous: dict[str, float | None] = field(default_factory=dict)
    change: dict[str, float | None] = field(default_factory=dict)
    comments: list[dict[str, str]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    low: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def targets_of(session: AsyncSession, campaign: EvaluationCampaign) -> list[EvaluationTarget]:
    """A campaign's households, by building and unit."""
    return list(
        (
            await session.scalars(
                select(EvaluationTarget)
                .where(EvaluationTarget.campaign_id == campaign.id)
                .order_by(EvaluationTarget.building, EvaluationTarget.unit_key)
            )
        ).all()
    )


async def summarize(
    session: AsyncSession, campaign: EvaluationCampaign, *, low_score: int = 2
) -> Summary:
    """The campaign's numbers as they stand (also while it is open: ``kefu evaluation
    status``)."""
    targets = await targets_of(session, campaign)
    answered = [t for t in targets if t.status == TargetStatus.ANSWERED]
    sampled = len(targets)
    result = Summary(
        quarter=campaign.quarter,
        households=campaign.households,
        sampled=sampled,
        by_chat=sum(1 for t in targets if t.conversation_id is not None),
        by_phone=sum(1 for t in targets if t.conversation_id is None),
        answered=len(answered),
        response_rate=round(len(answered) / sampled, 4) if sampled else None,
    )
    per_area: dict[str, list[int]] = defaultdict(list)
    per_building: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for target in targets:
        for area, score in (target.scores or {}).items():
            per_area[area].append(int(score))
            per_building[target.building][area].append(int(score))
            if int(score) <= low_score:
                result.low.append({"unit": target.unit_display, "area": area, "score": score})
        if target.comment:
            result.comments.append({"unit": target.unit_display, "comment": target.comment})
        if target.status != TargetStatus.ANSWERED:
            result.missing.append(
                {
                    "unit": target.unit_display,
                    "building": target.building,
                    "route": "chat" if target.conversation_id else "phone",
                    "status": target.status,
                }
            )
    result.areas = {area: _mean(per_area.get(area, [])) for area in campaign.areas}
    result.buildings = {
        building: {area: _mean(scores.get(area, [])) for area in campaign.areas}
        for building, scores in sorted(per_building.items())
    }
    before = await session.scalar(
        select(EvaluationCampaign).where(EvaluationCampaign.quarter == shift(campaign.quarter, -1))
    )
    if before is not None:
        previous = (before.summary or {}).get("areas")
        if previous is None:
            previous = (await summarize(session, before, low_score=low_score)).areas
        result.previous = dict(previous)
        result.change = {
            area: (
                round(now - was, 2)
                if (now := result.areas.get(area)) is not None
                and (was := result.previous.get(area)) is not None
                else None
            )
            for area in campaign.areas
        }
    return result
