"""``kefu residents import``, ``kefu orders import``, ``kefu fees import`` (Typer sub-apps).

The lead mounts them in ``bot/cli.py``::

    app.add_typer(residents_app, name="residents")
    app.add_typer(orders_app, name="orders")
    app.add_typer(fees_app, name="fees")

Until then: ``python -m bot.records.cli residents import FILE``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.records.importing import ImportResult, Kind, import_file
from bot.store.db import Database, StoreUnavailable

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (default: $KEFU_CONFIG or config.yml)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Check the file and count changes; write nothing.")
]
FileArgument = Annotated[Path, typer.Argument(help="CSV (UTF-8) or XLSX file with a header row.")]

# A file with a wrong column has a problem on every line: show enough to see the pattern.
MAX_ERRORS_SHOWN = 50

residents_app = typer.Typer(help="The resident registry (one file per household).")
orders_app = typer.Typer(help="The built-in orders table.")
fees_app = typer.Typer(help="The fee ledger per unit.")


class _RollBack(Exception):
    def __init__(self, result: ImportResult) -> None:
        super().__init__(result.summary())
        self.result = result


async def run_import(
    kind: Kind, path: Path, settings: Settings, *, dry_run: bool = False
) -> ImportResult:
    """Import ``path`` into the configured database in one transaction."""
    db = Database(settings.database.url, echo=settings.database.echo)
    try:
        if db.is_sqlite or settings.database.auto_migrate:
            await asyncio.to_thread(db.upgrade)
        now = SystemClock(settings.tz).now()
        try:
            async with db.write() as session:
                result = await import_file(session, kind, path, settings, now, dry_run=dry_run)
                if not result.ok or dry_run:
                    raise _RollBack(result)
        except _RollBack as rolled_back:
            return rolled_back.result
        return result
    finally:
        await db.dispose()


def _import(kind: Kind, path: Path, config: Path | None, dry_run: bool) -> None:
    try:
        settings = load_settings(config)
        result = asyncio.run(run_import(kind, path, settings, dry_run=dry_run))
    except (ConfigError, StoreUnavailable) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for warning in result.warnings:
        typer.echo(f"{path.name}: warning: {warning}", err=True)
    if not result.ok:
        for error in result.errors[:MAX_ERRORS_SHOWN]:
            typer.echo(f"{path.name}: {error}", err=True)
        if len(result.errors) > MAX_ERRORS_SHOWN:
            more = len(result.errors) - MAX_ERRORS_SHOWN
            typer.echo(f"{path.name}: ... and {more} more problem(s)", err=True)
        typer.echo(f"{path.name}: {len(result.errors)} problem(s); nothing was imported.", err=True)
        raise typer.Exit(1)
    prefix = "dry run, nothing written: " if dry_run else ""
    typer.echo(prefix + result.summary())


@residents_app.command("import")
def residents_import(
    file: FileArgument, config: ConfigOption = None, dry_run: DryRunOption = False
) -> None:
    """Import residents: header unit,name,phone,role,move_in (role: owner or tenant)."""
    _import("residents", file, config, dry_run)


@orders_app.command("import")
def orders_import(
    file: FileArgument, config: ConfigOption = None, dry_run: DryRunOption = False
) -> None:
    """Import orders: header order_id,phone,email,items,status,carrier,tracking_number,
    updated_at,eta (phone or email may be empty, not both)."""
    _import("orders", file, config, dry_run)


@fees_app.command("import")
def fees_import(
    file: FileArgument, config: ConfigOption = None, dry_run: DryRunOption = False
) -> None:
    """Import fee items: header unit,period,item,amount,due_date,paid_amount,paid_at."""
    _import("fees", file, config, dry_run)


records_app = typer.Typer(help="Records: residents, orders, fees.")
records_app.add_typer(residents_app, name="residents")
records_app.add_typer(orders_app, name="orders")
records_app.add_typer(fees_app, name="fees")

if __name__ == "__main__":
    records_app()
