"""The reports page: the figures of ``kefu report`` for a period, its charts, and the same
workbook and PDF for download. Managers only (issue #16: managers see reports and export).

Everything is computed by :mod:`bot.reports`, exactly as the CLI and the scheduled report do,
so the three doors can never disagree; drawing and writing files runs in a thread, off the
event loop that serves everyone else's pages.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from bot.config import Settings
from bot.fees.collection import collection_rates
from bot.reports.charts import draw_charts
from bot.reports.compute import Report
from bot.reports.labels import Labels
from bot.reports.pdf import write_pdf
from bot.reports.service import build_report
from bot.reports.text import render_text
from bot.reports.workbook import write_workbook
from bot.web.console import Console

CHARTS = ("pareto", "fishbone", "trend")
DOWNLOADS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


class BadPeriod(ValueError):
    """The dates asked for cannot make a period."""


def period(request: Request, settings: Settings, today: date) -> tuple[date, date]:
    """``from`` and ``to`` (YYYY-MM-DD, both included) from the query; the last 30 days."""
    try:
        raw_to, raw_from = request.query_params.get("to"), request.query_params.get("from")
        last = date.fromisoformat(raw_to) if raw_to else today
        first = date.fromisoformat(raw_from) if raw_from else last - timedelta(days=29)
    except ValueError:
        raise BadPeriod from None
    if first > last or (last - first).days > 366:
        raise BadPeriod
    return first, last


async def agent_names(session: AsyncSession) -> Mapping[str, str]:
    """Agents' names by their audit actor (``agent:7``), read as plain rows: the agents' desk
    is a sibling door that this one does not import."""
    rows = await session.execute(text("SELECT id, name FROM agents"))
    return {f"agent:{row.id}": row.name for row in rows}


async def report_for(console: Console, first: date, last: date) -> Report:
    """The service report for ``first``..``last`` in the office's time zone."""
    tz = console.settings.tz
    since = datetime.combine(first, time(0), tz)
    until = datetime.combine(last + timedelta(days=1), time(0), tz)
    async with console.db.session() as session:
        return await build_report(
            session,
            since,
            until,
            console.clock.now(),
            console.settings.reports,
            agent_names,
            collection_rates,
        )


def labels(console: Console, language: str) -> Labels:
    return Labels.load(console.settings.dialogues_dir, language)


def as_text(console: Console, report: Report, language: str) -> str:
    return render_text(report, console.settings.tz, labels(console, language))


async def chart_png(console: Console, report: Report, language: str, name: str) -> bytes:
    """One chart (``pareto``, ``fishbone`` or ``trend``) as PNG bytes."""

    def draw() -> bytes:
        from bot.reports.charts import draw_chart

        with tempfile.TemporaryDirectory(prefix="kefu-web-chart-") as work:
            words = labels(console, language)
            return draw_chart(name, report, words, console.settings.tz, Path(work)).read_bytes()

    return await asyncio.to_thread(draw)


async def download(console: Console, report: Report, language: str, kind: str) -> bytes:
    """The workbook (with its charts) or the PDF, as bytes."""

    def write() -> bytes:
        words = labels(console, language)
        tz = console.settings.tz
        with tempfile.TemporaryDirectory(prefix="kefu-web-report-") as work:
            folder = Path(work)
            if kind == "xlsx":
                pictures = draw_charts(report, words, tz, folder / "charts")
                return write_workbook(
                    report, folder / "report.xlsx", tz, words, pictures
                ).read_bytes()
            return write_pdf(report, folder / "report.pdf", tz, words, folder / "pdf").read_bytes()

    return await asyncio.to_thread(write)


def file_response(data: bytes, kind: str, first: date, last: date) -> Response:
    name = f"kefu-report-{first:%Y%m%d}-{last:%Y%m%d}.{kind}"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type=DOWNLOADS[kind], headers=headers)
