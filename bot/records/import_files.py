"""Reading the spreadsheets offices import: CSV (or TSV) and XLSX, as a header and rows.

A file that cannot be read at all raises :class:`ValueError` with a sentence for the operator.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.records.values import text_of


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header (lower-cased) and ``(line, cells)`` rows of a CSV or XLSX file.

    Raises :class:`ValueError` with a sentence when the file cannot be read at all.
    """
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix in (".csv", ".txt", ".tsv", ""):
        return _read_csv(path, delimiter="\t" if suffix == ".tsv" else ",")
    raise ValueError(f"{path.name}: unsupported file type {suffix!r} (use .csv or .xlsx)")


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name}: not UTF-8 text (save the CSV as UTF-8)") from None
    except OSError as exc:
        raise ValueError(f"{path.name}: cannot read: {exc.strerror}") from None
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{path.name}: the file is empty") from None
    except csv.Error as exc:
        raise ValueError(f"{path.name}: line 1: {exc}") from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ValueError(f"{path.name}: line {reader.line_num}: {exc}") from None
            yield reader.line_num, cells

    return [h.strip().lower() for h in header], rows()


def _read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise ValueError(f"{path.name}: not a readable XLSX file ({type(exc).__name__})") from None
    sheet = workbook.worksheets[0]
    all_rows = sheet.iter_rows(values_only=True)
    header_cells = next(all_rows, None)
    if header_cells is None:
        workbook.close()
        raise ValueError(f"{path.name}: the first sheet is empty")

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for line, cells in enumerate(all_rows, start=2):
                yield line, list(cells)
        finally:
            workbook.close()

    return [text_of(h).lower() for h in header_cells], rows()
