"""Tables to XLSX (openpyxl): one sheet per table, a header row, plain values."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_xlsx(
    path: Path, sheets: dict[str, tuple[Sequence[str], Sequence[Sequence[Any]]]]
) -> None:
    """Write ``{sheet name: (header, rows)}`` to ``path`` (replacing it)."""
    from openpyxl import Workbook  # here, not at import: ~0.2 s CPU the fee commands skip

    book = Workbook()
    first = True
    for name, (header, rows) in sheets.items():
        sheet = book.active if first else book.create_sheet()
        first = False
        sheet.title = name[:31]
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row))
    book.save(path)
