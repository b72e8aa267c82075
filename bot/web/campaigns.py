"""Notices and the owner evaluation in the console (managers): composing a notice from a form,
its delivery status, and a quarter's evaluation campaign. Everything goes through
:mod:`bot.notices.service` and :mod:`bot.evaluation`, as ``kefu notices`` and
``kefu evaluation`` do; sending stays with ``kefu run``'s delivery workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from bot.config import LANGUAGES, Settings
from bot.evaluation.models import EvaluationCampaign
from bot.evaluation.quarters import parse_quarter, quarter_of
from bot.evaluation.summary import Summary, summarize
from bot.notices.models import NoticeKind
from bot.notices.service import NoticeDraft, NoticeError

AUDIENCE_LISTS = ("blocks", "floors", "units", "tags", "shopper_tags")


def _words(text: str) -> list[str]:
    """``7, 8；9`` -> ``["7", "8", "9"]`` (commas of either width, semicolons, new lines)."""
    for sep in ("，", "；", ";", "\n", "、"):
        text = text.replace(sep, ",")
    return [w.strip() for w in text.split(",") if w.strip()]


def draft_from_form(form: FormData, settings: Settings, author: str) -> NoticeDraft:
    """A :class:`NoticeDraft` from the composer's fields; :class:`NoticeError` says what is
    wrong in one line (the same checks as the CLI)."""

    def field(name: str, limit: int = 4000) -> str:
        value = form.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    title = {lang: field(f"title_{lang}", 200) for lang in LANGUAGES}
    body = {lang: field(f"body_{lang}") for lang in LANGUAGES}
    audience: dict[str, Any] = {k: _words(field(k, 1000)) for k in AUDIENCE_LISTS}
    audience = {k: v for k, v in audience.items() if v}
    roles = [r for r in ("owner", "tenant") if form.get(f"role_{r}")]
    if roles:
        audience["roles"] = roles
    if form.get("everyone") or not audience:
        audience["residents"] = "all"
    kind = NoticeKind.URGENT if form.get("urgent") else NoticeKind.ORDINARY
    send_at = None
    if field("send_at"):
        try:
            send_at = datetime.fromisoformat(field("send_at")).replace(tzinfo=settings.tz)
        except ValueError:
            raise NoticeError("send time: use the date and time picker") from None
    return NoticeDraft(title=title, body=body, audience=audience, kind=kind, send_at=send_at,
                       created_by=author[:64])  # fmt: skip


def quarter_asked(text: str | None, today: Any) -> str:
    """The quarter in the query (``2026Q4``), else the current one; ValueError if unreadable."""
    quarter = (text or quarter_of(today)).strip().upper()
    parse_quarter(quarter)
    return quarter


async def evaluation_summary(
    session: AsyncSession, quarter: str, settings: Settings
) -> Summary | None:
    """The quarter's campaign so far (None: no campaign that quarter)."""
    campaign = await session.scalar(
        select(EvaluationCampaign).where(EvaluationCampaign.quarter == quarter)
    )
    if campaign is None:
        return None
    return await summarize(session, campaign, low_score=settings.evaluation.low_score)
