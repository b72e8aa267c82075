"""`kefu report --xlsx --pdf --charts`: the workbook opens with openpyxl and holds the numbers
the text shows; the charts are PNG images; the PDF is a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.reports import build_report
from bot.reports.compute import Report
from bot.reports.labels import Labels
from bot.reports.text import pct, render_text
from bot.reports.workbook import write_workbook
from bot.store.db import Database
from tests.reports.month import END, EXPECTED, HK, NOW, START, seed

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def summary(path: Path) -> dict[str, Any]:
    book = load_workbook(path)
    sheet = book.worksheets[0]
    return {row[0]: row[2] for row in sheet.iter_rows(min_row=3, values_only=True) if row[0]}


@pytest.fixture
async def report(db: Database) -> Report:
    async with db.write() as session:
        await seed(session)
    async with db.session() as session:
        return await build_report(session, START, END, NOW)


@pytest.mark.parametrize("language", ["zh-Hant", "en"])
async def test_the_workbook_has_the_numbers_of_the_text(
    report: Report, tmp_path: Path, language: str
) -> None:
    labels = Labels.load(ROOT / "dialogues", language)
    text = render_text(report, HK, labels)
    figures = summary(write_workbook(report, tmp_path / "r.xlsx", HK, labels))
    assert figures["total"] == EXPECTED["total"] == report.total
    for name in ("first_response", "resolution", "callback"):
        want = EXPECTED[name]
        assert figures[f"{name}.rate"] == pytest.approx(want["rate"])
        for field in ("met", "missed", "overdue", "pending"):
            assert figures[f"{name}.{field}"] == want[field]
        # The text shows the same rate and met/decided.
        decided = want["met"] + want["missed"] + want["overdue"]
        assert f"{pct(want['rate'])} ({want['met']}/{decided};" in text
    assert figures["complaints.rate"] == pytest.approx(EXPECTED["complaints"]["rate"])
    assert figures["complaints.target"] == 0.95
    assert figures["complaints.invalid"] == EXPECTED["complaints"]["invalid"]
    assert f"{pct(figures['complaints.rate'])} (" in text and pct(0.95) in text
    assert figures["average_score"] == pytest.approx(EXPECTED["average_score"])
    assert f"{figures['average_score']:.2f} / 5" in text
    assert figures["callback.channel.phone"] == EXPECTED["callback_by_channel"]["phone"]


def test_kefu_report_writes_the_workbook_pdf_and_charts(
    settings: Settings, tmp_path: Path, sqlite_url: str
) -> None:
    import asyncio

    async def fill() -> None:
        db = Database(sqlite_url)
        async with db.write() as session:
            await seed(session)
        await db.dispose()

    asyncio.run(fill())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "-c",
            str(ROOT / "config.yml"),
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--language",
            "en",
            "--xlsx",
            str(out / "r.xlsx"),
            "--pdf",
            str(out / "r.pdf"),
            "--charts",
            str(out / "charts"),
        ],
        env={"KEFU_DATABASE_URL": sqlite_url, "KEFU_DIALOGUES_DIR": str(ROOT / "dialogues")},
    )
    assert result.exit_code == 0, result.output
    for name in ("pareto", "fishbone", "trend"):
        png = out / "charts" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 5000
    assert (out / "r.pdf").read_bytes()[:5] == b"%PDF-"
    figures = summary(out / "r.xlsx")
    assert figures["total"] == EXPECTED["total"]
    # Run after November: C4's reply is overdue now, so compare with the text, not EXPECTED.
    for key in ("first_response.rate", "callback.rate", "complaints.rate"):
        assert pct(figures[key]) in result.stdout
    book = load_workbook(out / "r.xlsx")
    assert sum(len(ws._images) for ws in book.worksheets) == 3  # the charts are in it


def test_bad_dates_are_a_clear_answer(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["report", "-c", str(ROOT / "config.yml"), "--from", "2026-13-01"]
    )
    assert result.exit_code == 2 and "--from and --to take dates" in result.output


def test_an_empty_period_still_gives_every_file(tmp_path: Path, sqlite_url: str) -> None:
    out = tmp_path / "empty"
    result = CliRunner().invoke(
        app,
        ["report", "-c", str(ROOT / "config.yml"), "--from", "2020-01-01", "--to", "2020-01-07",
         "--xlsx", str(out / "r.xlsx"), "--pdf", str(out / "r.pdf"), "--charts", str(out)],
        env={"KEFU_DATABASE_URL": sqlite_url, "KEFU_DIALOGUES_DIR": str(ROOT / "dialogues"),
             "KEFU_REPORTS__COMPLAINT_TARGET": "0.9"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "期內新單：0" in result.stdout and "目標 90.0%" in result.stdout
    assert summary(out / "r.xlsx")["complaints.rate"] is None
    assert (out / "pareto.png").read_bytes()[:8] == PNG
    assert (out / "r.pdf").read_bytes()[:5] == b"%PDF-"
