"""The household file (一戶一檔) in the console: the same tables as ``kefu household show``
(:mod:`bot.household`), as HTML and as the same XLSX/CSV downloads."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bot.household.export import write_csv, write_xlsx
from bot.household.render import Table, household_tables
from bot.household.service import UnitUnreadable, household_file, parse_unit_text
from bot.web.console import Console

EXPORTS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class ConsoleTexts:
    """Responses in the staff member's language, as :class:`bot.household.render.Texts`."""

    def __init__(self, console: Console, language: str) -> None:
        self._console = console
        self.language = language

    def __call__(self, name: str, values: dict[str, Any] | None = None) -> str:
        return self._console.responses.text(name, self.language, values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._console.responses


async def household(console: Console, unit_text: str, language: str) -> tuple[str, list[Table]]:
    """The unit as shown (``3座18樓B室``) and its file's tables; :class:`UnitUnreadable` for
    text that names no flat (a floor alone is not a household); no tables when nothing is on
    record."""
    unit = parse_unit_text(unit_text, language)
    settings = console.settings
    async with console.db.session() as session:
        file = await household_file(
            session, unit, today=console.clock.now().date(), fees=settings.fees
        )
    if file.empty:
        return unit.display, []
    texts = ConsoleTexts(console, language)
    return unit.display, household_tables(file, texts, settings.tz, settings.default_region)


async def export(tables: list[Table], kind: str) -> bytes:
    """The tables as the CLI writes them (one sheet per section, or CSV section by section)."""

    def write() -> bytes:
        with tempfile.TemporaryDirectory(prefix="kefu-web-household-") as work:
            path = Path(work) / f"household.{kind}"
            (write_xlsx if kind == "xlsx" else write_csv)(tables, path)
            return path.read_bytes()

    return await asyncio.to_thread(write)


__all__ = ["EXPORTS", "ConsoleTexts", "UnitUnreadable", "export", "household"]
