"""``kefu fees confirm|arrears|collection|arrange`` (mounted beside ``kefu fees import``)."""

from __future__ import annotations

import getpass
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import update

from bot.clitools import ConfigOption, fail, when, with_db
from bot.config import Settings
from bot.fees.collection import arrears, collection_rates
from bot.fees.confirm import ConfirmError, confirm_payment
from bot.fees.export import write_xlsx
from bot.fees.models import FeeArrangement
from bot.records.units import read_unit

XlsxOption = Annotated[Path | None, typer.Option("--xlsx", help="Also write an XLSX file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def add_fee_commands(app: typer.Typer) -> None:
    """Add the collection commands to the ``kefu fees`` Typer app."""

    @app.command("confirm")
    def confirm(
        ticket: Annotated[str, typer.Argument(help="The payment proof, P-YYYYMMDD-NNNN.")],
        amount: Annotated[
            str | None, typer.Option("--amount", help="The amount received (default: the proof's).")
        ] = None,
        unit: Annotated[str | None, typer.Option("--unit", help="The unit paid for.")] = None,
        by: Annotated[str | None, typer.Option("--by", help="Who confirms (default: you).")] = None,
        config: ConfigOption = None,
    ) -> None:
        """Finance confirms a payment proof: ledger paid, resident thanked, reminders stop."""
        actor = f"staff:{by or getpass.getuser()}"

        async def work(db, settings: Settings, clock):
            async with db.write() as session:
                return await confirm_payment(
                    session,
                    ticket,
                    settings=settings,
                    now=clock.now(),
                    actor=actor,
                    amount=amount,
                    unit=unit,
                )

        try:
            result = with_db(config, work)
        except ConfirmError as exc:
            fail(str(exc), 1)
        for period, item, paid in result.applied:
            typer.echo(f"{period} {item}: paid {paid}")
        if result.unapplied > 0:
            typer.echo(f"not applied (no unpaid item left): {result.unapplied}")
        typer.echo(
            f"{result.ticket_number} confirmed for {result.unit_key}; still owed "
            f"{result.outstanding}; {'resident thanked' if result.thanked else 'no chat to thank'}"
        )

    @app.command("arrears")
    def arrears_command(
        xlsx: XlsxOption = None, as_json: JsonOption = False, config: ConfigOption = None
    ) -> None:
        """Units with overdue items: amounts, days overdue, reminders sent, last contact."""

        async def work(db, settings: Settings, clock):
            async with db.session() as session:
                return await arrears(session, clock.now().date()), settings

        rows, settings = with_db(config, work)
        header = [
            "unit",
            "building",
            "outstanding",
            "items",
            "days_overdue",
            "reminders_sent",
            "last_contact",
            "linked_chat",
            "stopped",
        ]
        table = [
            [
                a.unit_display,
                a.building,
                str(a.outstanding),
                a.items,
                a.days_overdue,
                a.reminders_sent,
                when(a.last_contact, settings),
                "yes" if a.linked else "phone",
                a.stopped or "",
            ]
            for a in rows
        ]
        if xlsx is not None:
            write_xlsx(xlsx, {"arrears": (header, table)})
        if as_json:
            typer.echo(
                json.dumps(
                    [dict(zip(header, r, strict=True)) for r in table], ensure_ascii=False, indent=2
                )
            )
            return
        if not rows:
            typer.echo("no arrears")
            return
        typer.echo("\t".join(header))
        for r in table:
            typer.echo("\t".join(str(v) for v in r))
        total = sum((a.outstanding for a in rows), Decimal("0"))
        typer.echo(f"{len(rows)} units owe {settings.fees.currency} {total}")

    @app.command("collection")
    def collection_command(
        period: Annotated[
            list[str] | None, typer.Option("--period", help="Only this period.")
        ] = None,
        xlsx: XlsxOption = None,
        as_json: JsonOption = False,
        config: ConfigOption = None,
    ) -> None:
        """Collection rate (收費率) per period and building, of items already due."""

        async def work(db, settings: Settings, clock):
            async with db.session() as session:
                today = clock.now().date()
                return await collection_rates(
                    session, periods=period, due_before=today
                ) + await collection_rates(
                    session, periods=period, due_before=today, by_building=False
                )

        rows = with_db(config, work)
        header = ["period", "building", "units", "billed", "collected", "rate"]
        table = [
            [r.period, r.building, r.units, str(r.billed), str(r.collected), _pct(r.rate)]
            for r in rows
        ]
        if xlsx is not None:
            write_xlsx(xlsx, {"collection": (header, table)})
        if as_json:
            typer.echo(json.dumps([dict(zip(header, r, strict=True)) for r in table], indent=2))
            return
        typer.echo("\t".join(header))
        for r in table:
            typer.echo("\t".join(str(v) for v in r))

    @app.command("arrange")
    def arrange(
        unit: Annotated[str, typer.Argument(help="The unit, as written in the register.")],
        until: Annotated[
            str | None, typer.Option("--until", help="Last day (YYYY-MM-DD); default: open.")
        ] = None,
        note: Annotated[str, typer.Option("--note")] = "",
        end: Annotated[
            bool, typer.Option("--end", help="End the unit's arrangements now.")
        ] = False,
        by: Annotated[str | None, typer.Option("--by")] = None,
        config: ConfigOption = None,
    ) -> None:
        """A payment arrangement: no reminders for the unit while it runs (or --end it)."""
        read = read_unit(unit, "zh-Hant")
        if read is None:
            fail(f"cannot read the unit {unit!r}", 1)
        try:
            ends_on = date.fromisoformat(until) if until else None
        except ValueError:
            fail(f"not a date: {until!r} (use YYYY-MM-DD)", 1)

        async def work(db, settings: Settings, clock):
            now = clock.now()
            async with db.write() as session:
                if end:
                    await session.execute(
                        update(FeeArrangement)
                        .where(
                            FeeArrangement.unit_key == read.key, FeeArrangement.ended_at.is_(None)
                        )
                        .values(ended_at=now)
                    )
                    return "ended"
                session.add(
                    FeeArrangement(
                        unit_key=read.key,
                        starts_on=now.astimezone(settings.tz).date(),
                        ends_on=ends_on,
                        note=note,
                        created_by=f"staff:{by or getpass.getuser()}",
                        created_at=now,
                    )
                )
                return "arranged"

        typer.echo(f"{read.display}: {with_db(config, work)}")
