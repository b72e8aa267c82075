"""The fee collection rate (收費率) in the service report (issue #15): per period and building,
items already due only, in the text, the workbook's own sheet, the JSON and ``kefu report``."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from bot.cli import app
from bot.fees.collection import collection_rates
from bot.reports import build_report
from bot.reports.collection import periods_of
from bot.reports.labels import Labels
from bot.reports.text import render_text
from bot.reports.workbook import write_workbook
from bot.store.db import Database
from tests.fees.support import fee
from tests.reports.month import END, HK, NOW, START

ROOT = Path(__file__).resolve().parents[2]


async def ledger(session: AsyncSession) -> None:
    """Block 1: 1000 billed, 1000 paid; block 2: 1000 billed, 500 paid (an overpayment does
    not count beyond the bill); an item due after ``NOW`` and October's are left out."""
    a, b, c = "B1|F3|RA", "B2|F5|RB", "B2|F6|RC"
    await fee(session, a, "2026-11", "management", "1000", date(2026, 11, 10), now=NOW, paid="1000")
    await fee(session, b, "2026-11", "management", "500", date(2026, 11, 10), now=NOW, paid="500")
    await fee(session, c, "2026-11", "management", "500", date(2026, 11, 10), now=NOW)
    await fee(session, c, "2026-11", "water", "80", date(2026, 11, 28), now=NOW)  # not due yet
    await fee(session, c, "2026-10", "management", "500", date(2026, 10, 10), now=NOW)


def test_the_periods_of_a_report_are_its_months_quarters_and_years() -> None:
    assert periods_of(START, END) == ["2026-11", "2026-Q4", "2026"]
    dec = datetime(2026, 12, 1, tzinfo=HK)
    assert periods_of(dec, datetime(2027, 2, 1, tzinfo=HK)) == [
        "2026-12", "2026-Q4", "2026", "2027-01", "2027-Q1", "2027",
    ]  # fmt: skip


async def test_the_report_carries_the_collection_rate(db: Database, tmp_path: Path) -> None:
    async with db.write() as session:
        await ledger(session)
    async with db.session() as session:
        bare = await build_report(session, START, END, NOW)
        report = await build_report(session, START, END, NOW, collection=collection_rates)
    assert bare.collection == []
    rows = {(r.period, r.building): r for r in report.collection}
    assert set(rows) == {("2026-11", "1"), ("2026-11", "2"), ("2026-11", "*")}
    assert rows[("2026-11", "1")].rate == 1.0
    assert rows[("2026-11", "2")].billed == Decimal("1000")
    assert rows[("2026-11", "2")].rate == 0.5 and rows[("2026-11", "2")].units == 2
    assert rows[("2026-11", "*")].rate == 0.75 and rows[("2026-11", "*")].units == 3
    assert [r.building for r in report.collection] == ["1", "2", "*"]  # the whole estate last

    labels = Labels.load(ROOT / "dialogues", "zh-Hant")
    text = render_text(report, HK, labels)
    assert "收費率（已到期的收費）" in text
    assert "2026-11 | 2座 | 2 | 1000.00 | 500.00 | 50.0%" in text
    assert "2026-11 | 全屋苑 | 3 | 2000.00 | 1500.00 | 75.0%" in text
    assert "收費率" not in render_text(bare, HK, labels)

    book = load_workbook(write_workbook(report, tmp_path / "r.xlsx", HK, labels))
    sheet = book["收費率"]
    values = [row for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert values[-1] == ("2026-11", "全屋苑", 3, 2000, 1500, 0.75)
    assert sheet.cell(5, 6).number_format == "0.0%"
    assert "收費率" not in load_workbook(write_workbook(bare, tmp_path / "b.xlsx", HK, labels))
    assert report.as_dict()["collection"][2]["rate"] == 0.75


def test_kefu_report_shows_it_and_exports_it(tmp_path: Path, sqlite_url: str) -> None:
    async def fill() -> None:
        database = Database(sqlite_url)
        async with database.write() as session:
            await ledger(session)
        await database.dispose()

    asyncio.run(fill())
    env = {"KEFU_DATABASE_URL": sqlite_url, "KEFU_DIALOGUES_DIR": str(ROOT / "dialogues")}
    args = ["report", "-c", str(ROOT / "config.yml"), "--from", "2026-11-01", "--to", "2026-11-30"]
    runner = CliRunner()
    result = runner.invoke(
        app, [*args, "--language", "en", "--xlsx", str(tmp_path / "r.xlsx")], env=env
    )
    assert result.exit_code == 0, result.output
    # Run after November: the water bill is due by now and unpaid (2080 billed).
    assert "Fee collection rate (items already due)" in result.stdout
    assert "2026-11 | All buildings | 3 | 2080.00 | 1500.00 | 72.1%" in result.stdout
    sheet = load_workbook(tmp_path / "r.xlsx")["Collection"]
    assert ("2026-11", "Block 1", 1, 1000, 1000, 1.0) in list(sheet.values)
    as_json = runner.invoke(app, [*args, "--json"], env=env)
    figures = json.loads(as_json.stdout)["collection"]
    assert {"period": "2026-11", "building": "2", "units": 2}.items() <= figures[1].items()


@pytest.mark.parametrize("language", ["zh-Hans", "en"])
def test_the_labels_exist_in_every_language(language: str) -> None:
    labels = Labels.load(ROOT / "dialogues", language)
    for key in ("collection", "collection_header", "all_buildings", "sheet_collection"):
        assert key in labels.texts
