"""``kefu household show UNIT``: the household file (一戶一檔) on screen, as CSV or as XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bot.clitools import ConfigOption, fail, with_db
from bot.clock import Clock
from bot.config import LANGUAGES, Settings
from bot.household.export import write_csv, write_xlsx
from bot.household.render import household_tables, render_text
from bot.household.service import UnitUnreadable, household_file, parse_unit_text
from bot.store.db import Database

household_app = typer.Typer(help="One file per household (一戶一檔).", no_args_is_help=True)


class ResponseTexts:
    """The dialogues' responses in one language, as :class:`bot.household.render.Texts`."""

    def __init__(self, settings: Settings, language: str) -> None:
        from bot.dialogue.domain import load_domain
        from bot.dialogue.responses import Responses

        domain = load_domain(settings.dialogues_dir)
        self._responses = Responses(domain.responses, settings.default_language)
        self.language = language

    def __call__(self, name: str, values: dict[str, Any] | None = None) -> str:
        return self._responses.text(name, self.language, values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._responses


@household_app.command("show")
def household_show(
    unit: Annotated[str, typer.Argument(help="The unit, spelt any way (3座18樓B室, Flat B 18/F).")],
    lang: Annotated[
        str | None, typer.Option("--lang", help="zh-Hant, zh-Hans or en (default_language).")
    ] = None,
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", help="Also write an XLSX file, a sheet per section.")
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write a CSV file, section after section.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Show one unit's file: residents, tickets and complaints with their history, call-backs
    and surveys, fee balance and payments (phone numbers masked)."""
    if lang is not None and lang not in LANGUAGES:
        fail(f"--lang must be one of {', '.join(LANGUAGES)}, not {lang!r}")

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        language = lang or settings.default_language
        try:
            parsed = parse_unit_text(unit, language)
        except UnitUnreadable:
            fail(f"cannot read a flat in {unit!r} (write it like 3座18樓B室 or Flat B, 18/F)")
        async with db.session() as session:
            file = await household_file(
                session, parsed, today=clock.now().date(), fees=settings.fees
            )
        if file.empty:
            fail(f"nothing is on record for {parsed.display} (key {parsed.key})", 1)
        texts = ResponseTexts(settings, language)
        tables = household_tables(file, texts, settings.tz, settings.default_region)
        typer.echo(render_text(tables, texts), nl=False)
        try:
            if csv_file is not None:
                write_csv(tables, csv_file)
                typer.echo(f"written {csv_file}")
            if xlsx is not None:
                write_xlsx(tables, xlsx)
                typer.echo(f"written {xlsx}")
        except OSError as exc:
            fail(f"cannot write the file: {exc.strerror or exc}")

    with_db(config, work)
