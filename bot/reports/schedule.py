"""The weekly and monthly reports to the managers' chat, as durable follow-ups.

Each report is one ``manager_report`` follow-up whose idempotency key names the period
(``manager_report:weekly:2026-11-23``): scheduled once however many processes start, claimed
under a lease by the follow-up worker of ``kefu run``, and done once it is posted. Running one
schedules the next, and :func:`ensure_scheduled` (at start) fills any gap, e.g. after the chat
was configured. A failed post is retried by the worker; a post that reached Telegram but whose
completion did not commit may be posted again (at least once, never lost).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.followups.models import Followup
from bot.followups.service import schedule
from bot.reports.collection import CollectionRates
from bot.reports.labels import Labels
from bot.reports.service import AgentNames, build_report
from bot.reports.text import render_text
from bot.store.db import Database

log = logging.getLogger(__name__)

MANAGER_REPORT = "manager_report"
Cadence = Literal["weekly", "monthly"]


@dataclass(frozen=True)
class Period:
    """A report period ``[start, end)`` in office days, sent at ``send_at``."""

    cadence: Cadence
    first: date  # first day
    end: date  # the day after the last
    send_at: datetime

    @property
    def key(self) -> str:
        return f"{MANAGER_REPORT}:{self.cadence}:{self.first.isoformat()}"


def _at(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, settings.reports.send_at, settings.tz)


def next_periods(settings: Settings, now: datetime) -> list[Period]:
    """The next weekly and monthly reports still to send (those enabled): each is sent on the
    first ``send_at`` after its period ends."""
    opts = settings.reports
    today = now.astimezone(settings.tz).date()
    out: list[Period] = []
    if opts.weekly:
        day = today + timedelta(days=(opts.weekly_day - today.weekday()) % 7)
        if _at(day, settings) <= now:
            day += timedelta(days=7)
        out.append(Period("weekly", day - timedelta(days=7), day, _at(day, settings)))
    if opts.monthly:
        day = today.replace(day=1)
        if _at(day, settings) <= now:
            day = (day + timedelta(days=32)).replace(day=1)
        previous = (day - timedelta(days=1)).replace(day=1)
        out.append(Period("monthly", previous, day, _at(day, settings)))
    return out


async def ensure_scheduled(
    session: AsyncSession, settings: Settings, now: datetime
) -> list[Followup]:
    """Schedule the next reports (once per period) if a managers' chat is configured."""
    chat = settings.reports.managers_chat_id
    if chat is None:
        return []
    return [
        await schedule(
            session,
            kind=MANAGER_REPORT,
            due_at=period.send_at,
            idempotency_key=period.key,
            now=now,
            payload={
                "cadence": period.cadence,
                "first": period.first.isoformat(),
                "end": period.end.isoformat(),
                "chat_id": chat,
            },
            to_customer=False,
        )
        for period in next_periods(settings, now)
    ]


class Poster(Protocol):
    """Posts a report to a chat (the Telegram side lives in :mod:`bot.reports.telegram`)."""

    async def post(
        self, chat_id: int, text: str, photos: list[Path], document: Path | None
    ) -> None:
        """Send the text, the chart images and the workbook; raise to have it retried."""
        ...


class ManagerReportHandler:
    """Builds the period's report in the follow-up's transaction and posts it: text, charts as
    photos, the workbook as a document. Then schedules the next one."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        poster: Poster,
        names: AgentNames | None = None,
        collection: CollectionRates | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.poster = poster
        self.names = names
        self.collection = collection

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Post the report ``followup`` stands for."""
        payload: dict[str, Any] = dict(followup.payload or {})
        settings = self.settings
        now = self.clock.now()
        try:
            first = date.fromisoformat(str(payload["first"]))
            end = date.fromisoformat(str(payload["end"]))
            chat_id = int(payload.get("chat_id") or settings.reports.managers_chat_id or 0)
        except (KeyError, TypeError, ValueError):
            log.error("manager report %s has a bad payload: %s", followup.id, payload)
            return
        if chat_id:
            start = datetime.combine(first, time(0), settings.tz)
            until = datetime.combine(end, time(0), settings.tz)
            report = await build_report(
                session, start, until, now, settings.reports, self.names, self.collection
            )
            await self._post(report, chat_id, str(payload.get("cadence", "weekly")))
        await ensure_scheduled(session, settings, max(now, followup.due_at))

    async def _post(self, report: Any, chat_id: int, cadence: str) -> None:
        from bot.reports.charts import draw_charts
        from bot.reports.workbook import write_workbook

        opts = self.settings
        labels = Labels.load(opts.dialogues_dir, opts.reports.language or opts.default_language)
        text = f"{labels(f'scheduled_{cadence}')}\n\n{render_text(report, opts.tz, labels)}"

        def render(folder: Path) -> tuple[list[Path], Path]:
            charts = draw_charts(report, labels, opts.tz, folder)
            name = f"kefu-{cadence}-{report.start.astimezone(opts.tz):%Y%m%d}.xlsx"
            return list(charts.values()), write_workbook(
                report, folder / name, opts.tz, labels, charts
            )

        with tempfile.TemporaryDirectory(prefix="kefu-report-") as work:
            # Seconds of matplotlib (and loading the CJK font once): off the event loop, so
            # the bot keeps answering residents meanwhile.
            photos, book = await asyncio.to_thread(render, Path(work))
            await self.poster.post(chat_id, text, photos, book)


def report_handlers(
    settings: Settings,
    clock: Clock,
    poster: Poster,
    names: AgentNames | None = None,
    collection: CollectionRates | None = None,
) -> dict[str, Any]:
    """Handlers for :class:`bot.followups.FollowupWorker`."""
    return {MANAGER_REPORT: ManagerReportHandler(settings, clock, poster, names, collection)}


async def attach_reports(
    worker: Any,
    db: Database,
    settings: Settings,
    poster: Poster,
    names: AgentNames | None = None,
    collection: CollectionRates | None = None,
) -> bool:
    """Make ``kefu run``'s follow-up worker post the scheduled reports (agents named by
    ``names``, the fee collection rate from ``collection``), and schedule the next ones.
    False (nothing done) without ``reports.managers_chat_id``."""
    if settings.reports.managers_chat_id is None:
        return False
    worker.handlers.update(report_handlers(settings, worker.clock, poster, names, collection))
    async with db.write() as session:
        await ensure_scheduled(session, settings, worker.clock.now())
    return True
