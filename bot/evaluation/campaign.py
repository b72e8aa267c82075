"""Starting and closing a quarter's campaign on the follow-up machinery.

``evaluation_start:<quarter>`` is seeded every day (a no-op once it exists) and due at the
quarter's send time; its handler samples the households, stores the campaign with its seed and
schedules, per household with a linked chat, the questionnaire and one reminder; the others go
on the phone list. ``evaluation_close:<campaign>`` closes it and stores the summary.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.evaluation.models import EvaluationCampaign, EvaluationTarget, TargetStatus
from bot.evaluation.quarters import quarter_of, send_time, shift
from bot.evaluation.sampling import sample
from bot.fees.collection import building_of
from bot.fees.units import linked_chats
from bot.followups.service import schedule
from bot.records.models import Resident

START_KIND = "evaluation_start"
ASK_KIND = "evaluation_ask"
REMINDER_KIND = "evaluation_reminder"
CLOSE_KIND = "evaluation_close"


async def seed_campaign(session: AsyncSession, now: datetime, settings: Settings) -> None:
    """Schedule this quarter's start (once per quarter, whoever asks first)."""
    if not settings.evaluation.enabled:
        return
    quarter = quarter_of(now.astimezone(settings.tz).date())
    await schedule(
        session,
        kind=START_KIND,
        due_at=send_time(quarter, settings),
        idempotency_key=f"{START_KIND}:{quarter}",
        now=now,
        to_customer=False,
        payload={"quarter": quarter},
    )


async def households(session: AsyncSession) -> dict[str, tuple[str, str, str]]:
    """Every registered household: unit key -> (building, display, an owner's phone)."""
    rows = (
        await session.scalars(
            select(Resident).order_by(Resident.unit_key, Resident.role, Resident.id)
        )
    ).all()
    found: dict[str, tuple[str, str, str]] = {}
    for resident in rows:
        found.setdefault(
            resident.unit_key,
            (building_of(resident.unit_key), resident.unit_display, resident.phone),
        )
    return found


async def recently_asked(session: AsyncSession, quarter: str, quarters: int) -> set[str]:
    """Units asked in the ``quarters`` campaigns before ``quarter`` (12 months by default)."""
    if quarters <= 0:
        return set()
    earlier = [shift(quarter, -i) for i in range(1, quarters + 1)]
    rows = await session.scalars(
        select(EvaluationTarget.unit_key)
        .join(EvaluationCampaign, EvaluationCampaign.id == EvaluationTarget.campaign_id)
        .where(EvaluationCampaign.quarter.in_(earlier))
    )
    return set(rows)


async def start_campaign(
    session: AsyncSession,
    quarter: str,
    *,
    settings: Settings,
    now: datetime,
    seed: int | None = None,
) -> EvaluationCampaign:
    """Sample and store the quarter's campaign and schedule its messages (idempotent: an
    existing campaign for the quarter is returned as it is)."""
    existing = await session.scalar(
        select(EvaluationCampaign).where(EvaluationCampaign.quarter == quarter)
    )
    if existing is not None:
        return existing
    config = settings.evaluation
    homes = await households(session)
    recent = await recently_asked(session, quarter, config.repeat_quarters)
    seed = seed if seed is not None else random.SystemRandom().randrange(1, 2**31)
    chosen = sample({u: b for u, (b, _, _) in homes.items()}, recent, config.share, seed)
    campaign = EvaluationCampaign(
        quarter=quarter,
        seed=seed,
        share=config.share,
        areas=list(config.areas),
        households=len(homes),
        sent_at=now,
        closes_at=now + config.open_for,
        closed_at=None,
        summary={"wanted": chosen.wanted, "shortfall": chosen.shortfall},
        created_at=now,
    )
    session.add(campaign)
    await session.flush()
    chats = await linked_chats(session, chosen.units)
    for unit in chosen.units:
        building, display, phone = homes[unit]
        linked = chats.get(unit) or []
        chat = linked[0] if linked else None
        target = EvaluationTarget(
            campaign_id=campaign.id,
            unit_key=unit,
            unit_display=display,
            building=building,
            conversation_id=chat.conversation_id if chat else None,
            phone=phone,
            status=TargetStatus.PENDING if chat else TargetStatus.PHONE,
            scores={},
        )
        session.add(target)
        await session.flush()
        if chat is None:
            continue
        payload: dict[str, Any] = {"target": target.id}
        await schedule(
            session,
            kind=ASK_KIND,
            due_at=now,
            idempotency_key=f"{ASK_KIND}:{campaign.id}:{unit}",
            now=now,
            to_customer=True,
            settings=settings,
            payload=payload,
        )
        await schedule(
            session,
            kind=REMINDER_KIND,
            due_at=now + config.reminder_after,
            idempotency_key=f"{REMINDER_KIND}:{campaign.id}:{unit}",
            now=now,
            to_customer=True,
            settings=settings,
            payload=payload,
        )
    await schedule(
        session,
        kind=CLOSE_KIND,
        due_at=campaign.closes_at,
        idempotency_key=f"{CLOSE_KIND}:{campaign.id}",
        now=now,
        to_customer=False,
        payload={"campaign": campaign.id},
    )
    return campaign


async def close_campaign(
    session: AsyncSession, campaign: EvaluationCampaign, now: datetime, *, low_score: int = 2
) -> None:
    """No more answers: the unanswered are missed, the summary is stored (its low scores are
    those at or below ``low_score``, ``evaluation.low_score``)."""
    from bot.evaluation.summary import summarize

    if campaign.closed_at is not None:
        return
    campaign.closed_at = now
    targets = (
        await session.scalars(
            select(EvaluationTarget).where(EvaluationTarget.campaign_id == campaign.id)
        )
    ).all()
    for target in targets:
        if target.status in (TargetStatus.PENDING, TargetStatus.ASKED):
            target.status = TargetStatus.MISSED
    campaign.summary = {
        **(campaign.summary or {}),
        **(await summarize(session, campaign, low_score=low_score)).as_dict(),
    }
