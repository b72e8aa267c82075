"""``kefu report``: the service report for a period, as text, JSON, a workbook, a PDF and
charts; ``kefu complaint-validity``: mark a complaint valid or invalid."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.fees.collection import collection_rates
from bot.reports.compute import Report
from bot.reports.labels import Labels
from bot.reports.service import build_report
from bot.reports.text import render_text
from bot.reports.validity import NotAComplaint, set_validity
from bot.store.db import Database, StoreUnavailable
from bot.store.models import Ticket

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Settings file.")]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"kefu: {exc}", err=True)
        raise typer.Exit(2) from None


async def agent_names(session: AsyncSession) -> dict[str, str]:
    """Agents by the actor string they leave in the audit trail (``agent:7`` -> "Alice")."""
    from bot.agents.models import Agent

    rows = await session.execute(select(Agent.id, Agent.name))
    return {f"agent:{row.id}": row.name for row in rows}


def labels_for(settings: Settings, language: str | None = None) -> Labels:
    """The report texts in ``language``, else ``reports.language``, else the default."""
    chosen = language or settings.reports.language or settings.default_language
    return Labels.load(settings.dialogues_dir, chosen)


def write_files(
    report: Report,
    settings: Settings,
    labels: Labels,
    *,
    xlsx: Path | None = None,
    pdf: Path | None = None,
    charts: Path | None = None,
) -> list[Path]:
    """The files asked for (charts go in the workbook too); returns what was written."""
    from bot.reports.charts import draw_charts

    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="kefu-report-") as work:
        folder = charts or Path(work) / "charts"
        pictures = draw_charts(report, labels, settings.tz, folder) if (charts or xlsx) else {}
        if charts:
            written += pictures.values()
        if xlsx:
            from bot.reports.workbook import write_workbook

            written.append(write_workbook(report, xlsx, settings.tz, labels, pictures))
        if pdf:
            from bot.reports.pdf import write_pdf

            written.append(write_pdf(report, pdf, settings.tz, labels, Path(work) / "pdf"))
    return written


def report_command(
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD); default 30 days ago.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, included (YYYY-MM-DD); default today.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", help="Also write an Excel workbook.")
    ] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Also write a PDF.")] = None,
    charts: Annotated[
        Path | None, typer.Option("--charts", help="Also write the charts (PNG) in this folder.")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="zh-Hant, zh-Hans or en.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Volumes, deadlines met, call-backs, complaint handling against its target,
    satisfaction, per building and per agent, and the causes of complaints."""
    settings = _settings(config)
    if language is not None and language not in ("zh-Hant", "zh-Hans", "en"):
        typer.echo("kefu: --language takes zh-Hant, zh-Hans or en", err=True)
        raise typer.Exit(2)
    clock = SystemClock(settings.tz)
    today = clock.now().date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError:
        typer.echo("kefu: --from and --to take dates like 2026-11-27", err=True)
        raise typer.Exit(2) from None
    if first > last:
        typer.echo("kefu: --from is after --to", err=True)
        raise typer.Exit(2)
    since = datetime.combine(first, time(0), settings.tz)
    until = datetime.combine(last + timedelta(days=1), time(0), settings.tz)

    async def main() -> Report:
        db = Database(settings.database.url)
        try:
            async with db.session() as session:
                return await build_report(
                    session,
                    since,
                    until,
                    clock.now(),
                    settings.reports,
                    agent_names,
                    collection_rates,
                )
        finally:
            await db.dispose()

    try:
        report = asyncio.run(main())
    except StoreUnavailable as exc:
        typer.echo(f"kefu: {exc}", err=True)
        raise typer.Exit(3) from None
    labels = labels_for(settings, language)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(render_text(report, settings.tz, labels))
    try:
        written = write_files(report, settings, labels, xlsx=xlsx, pdf=pdf, charts=charts)
    except OSError as exc:
        typer.echo(f"kefu: cannot write {exc.filename or ''}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    for path in written:
        typer.echo(f"wrote {path}", err=True)


def validity_command(
    number: Annotated[str, typer.Argument(help="The complaint's ticket number.")],
    invalid: Annotated[
        bool, typer.Option("--invalid/--valid", help="Invalid (left out of the rate) or valid.")
    ] = True,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")] = "",
    by: Annotated[str, typer.Option("--by", help="Your name (the audit trail's staff:NAME).")] = "",
    config: ConfigOption = None,
) -> None:
    """Mark a complaint invalid (or valid again): invalid complaints are not rated."""
    settings = _settings(config)
    if not by.strip():
        typer.echo("kefu: say who decides with --by NAME", err=True)
        raise typer.Exit(2)
    clock = SystemClock(settings.tz)

    async def main() -> str:
        db = Database(settings.database.url)
        try:
            async with db.write() as session:
                ticket = (
                    await session.execute(
                        select(Ticket).where(Ticket.number == number.strip().upper())
                    )
                ).scalar_one_or_none()
                if ticket is None:
                    return f"kefu: no ticket {number}"
                await set_validity(
                    session,
                    ticket,
                    valid=not invalid,
                    actor=f"staff:{by.strip()}",
                    now=clock.now(),
                    reason=reason,
                )
                return ""
        finally:
            await db.dispose()

    try:
        problem = asyncio.run(main())
    except NotAComplaint as exc:
        problem = f"kefu: {exc}"
    except StoreUnavailable as exc:
        typer.echo(f"kefu: {exc}", err=True)
        raise typer.Exit(3) from None
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(1)
    typer.echo(f"{number.upper()}: {'invalid' if invalid else 'valid'}")
