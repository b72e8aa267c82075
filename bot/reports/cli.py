"""``kefu report``: the service report for a period."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer

from bot.clock import SystemClock
from bot.config import ConfigError, load_settings
from bot.reports.service import build_report, render_text
from bot.store.db import Database, StoreUnavailable


def report_command(
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD); default 30 days ago.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, included (YYYY-MM-DD); default today.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Settings file.")] = None,
) -> None:
    """Volumes, SLA compliance, satisfaction and the Pareto of complaint causes."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(f"kefu: {exc}", err=True)
        raise typer.Exit(2) from None
    clock = SystemClock(settings.tz)
    today = clock.now().date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError:
        typer.echo("kefu: --from and --to take dates like 2026-11-27", err=True)
        raise typer.Exit(2) from None
    since = datetime.combine(first, time(0), settings.tz)
    until = datetime.combine(last + timedelta(days=1), time(0), settings.tz)

    async def main() -> None:
        db = Database(settings.database.url)
        try:
            async with db.session() as session:
                report = await build_report(session, since, until, clock.now())
        finally:
            await db.dispose()
        if as_json:
            typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
        else:
            typer.echo(render_text(report, settings.tz))

    try:
        asyncio.run(main())
    except StoreUnavailable as exc:
        typer.echo(f"kefu: {exc}", err=True)
        raise typer.Exit(3) from None
