"""Writing the household file's tables to CSV (one file, sections one after another) or XLSX
(one sheet per section), for the office's own records and for printing."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from bot.household.render import Table

# Excel refuses these in sheet names and allows at most 31 characters.
_SHEET_JUNK = re.compile(r"[\[\]:*?/\\]")


def write_csv(tables: list[Table], path: Path) -> None:
    """Every section as its title, its header and its rows, a blank line between sections.

    UTF-8 with a byte-order mark, so Excel opens Chinese text correctly.
    """
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        for index, table in enumerate(tables):
            if index:
                writer.writerow([])
            writer.writerow([table.title])
            writer.writerow(table.header)
            writer.writerows(table.rows)


def write_xlsx(tables: list[Table], path: Path) -> None:
    """One sheet per section, its header in bold and columns wide enough to read."""
    # Imported here: ~0.2 s CPU that a process which writes no spreadsheet need not pay.
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    if book.active is not None:
        book.remove(book.active)
    used: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table, used))
        sheet.append(table.header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(row)
        for index, column in enumerate(zip(table.header, *table.rows, strict=False), start=1):
            width = max((_width(str(value)) for value in column), default=8)
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = min(max(width + 2, 8), 60)
    book.save(path)


def _sheet_name(table: Table, used: set[str]) -> str:
    name = _SHEET_JUNK.sub(" ", table.title).strip()[:31] or table.key[:31]
    base, n = name, 2
    while name in used:
        suffix = f" {n}"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(name)
    return name


def _width(text: str) -> int:
    """Display width: a CJK character takes two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
