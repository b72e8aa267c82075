"""The report as an Excel workbook (``kefu report --xlsx FILE``), with the charts in it.

Every number is written as a number (rates as fractions formatted as percentages), so a manager
can compute with them; the Summary sheet names each figure with a stable key in column A, the
same figure the text report prints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import tzinfo
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.reports.compute import Compliance, GroupRow, Report
from bot.reports.labels import Labels
from bot.reports.text import period_days, who

if TYPE_CHECKING:
    from openpyxl.styles import Font
    from openpyxl.worksheet.worksheet import Worksheet

PERCENT = "0.0%"


@cache
def bold() -> Font:
    """Bold text. openpyxl is imported when a workbook is written, not with this module (the
    web console imports it, and every process starting the console paid for openpyxl)."""
    from openpyxl.styles import Font

    return Font(bold=True)


def summary_rows(report: Report, labels: Labels) -> Iterator[tuple[str, str, Any]]:
    """(key, label, value) of every headline figure: the Summary sheet, and what tests compare
    with the text report."""
    yield "total", labels("opened", count="").rstrip(" ：:"), report.total
    for kind, count in report.by_kind.items():
        yield f"by_kind.{kind}", labels.kind(kind), count
    for status, count in report.by_status.items():
        yield f"by_status.{status}", labels.status(status), count
    for name in ("first_response", "resolution", "callback"):
        deadline: Compliance = getattr(report, name)
        for field in ("met", "missed", "overdue", "pending", "decided"):
            yield f"{name}.{field}", f"{labels(name)} {field}", getattr(deadline, field)
        yield f"{name}.rate", labels(name), deadline.rate
    for channel, count in report.callback_by_channel.items():
        yield f"callback.channel.{channel}", f"{labels('callback')} {channel}", count
    c = report.complaints
    yield "complaints.rate", labels("complaints"), c.rate
    yield "complaints.target", labels("target"), c.target
    for field in ("met", "missed", "overdue", "pending", "decided"):
        yield f"complaints.{field}", f"{labels('complaints')} {field}", getattr(c.handling, field)
    yield "complaints.invalid", "invalid", c.invalid
    yield "complaints.cancelled", "cancelled", c.cancelled
    yield "surveys", labels("answers"), report.surveys
    yield "average_score", labels("score"), report.average_score
    yield "fixed_rate", "fixed", report.fixed_rate


def _percent(ws: Worksheet, columns: str) -> None:
    for column in columns:
        for cell in ws[column][1:]:
            if isinstance(cell.value, float):
                cell.number_format = PERCENT


def _groups(
    ws: Worksheet,
    title: str,
    rows: list[GroupRow],
    labels: Labels,
    building: bool,
    names: Mapping[str, str] | None = None,
) -> None:
    ws.append([title])
    ws[ws.max_row][0].font = bold()
    ws.append([h.strip() for h in labels("group_header").split("|")])
    for row in rows:
        name = labels.building(row.name) if building else who(row.name, names)
        ws.append(
            [
                name,
                row.tickets,
                row.complaints,
                row.first_response.rate,
                row.callback.rate,
                row.average_score,
            ]
        )
        for cell in ws[ws.max_row][3:5]:
            cell.number_format = PERCENT
    ws.append([])


def _collection(ws: Worksheet, report: Report, labels: Labels) -> None:
    """The collection rate per period and building: amounts as numbers, the rate a fraction."""
    ws.append([labels("collection")])
    ws[ws.max_row][0].font = bold()
    ws.append([h.strip() for h in labels("collection_header").split("|")])
    for row in report.collection:
        where = labels("all_buildings") if row.building == "*" else labels.building(row.building)
        ws.append([row.period, where, row.units, row.billed, row.collected, row.rate])
        ws.cell(ws.max_row, 6).number_format = PERCENT
    ws.column_dimensions["B"].width = 16


def write_workbook(
    report: Report,
    path: Path,
    tz: tzinfo,
    labels: Labels,
    charts: Mapping[str, Path] | None = None,
) -> Path:
    """Write the workbook to ``path``; ``charts`` (name -> PNG) are placed on their sheets."""
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = labels("sheet_summary")[:31]
    first, last = period_days(report, tz)
    summary.append([labels("title", start=first, end=last)])
    summary["A1"].font = bold()
    summary.append(["key", "", "value"])
    for key, label, value in summary_rows(report, labels):
        summary.append([key, label, value])
        if key.endswith(("rate", "target")):
            summary.cell(summary.max_row, 3).number_format = PERCENT
    summary.column_dimensions["A"].width = 28
    summary.column_dimensions["B"].width = 36

    groups = book.create_sheet(labels("sheet_groups")[:31])
    _groups(groups, labels("by_building"), report.by_building, labels, True)
    _groups(groups, labels("by_agent"), report.by_agent, labels, False, report.names)

    if report.collection:
        _collection(book.create_sheet(labels("sheet_collection")[:31]), report, labels)

    causes = book.create_sheet(labels("sheet_causes")[:31])
    causes.append([labels("pareto")])
    causes.append(["cause", "", labels("count"), "share", labels("cumulative"), "vital few"])
    for p in report.complaint_pareto:
        name = labels.category("complaint", p.cause)
        causes.append([p.cause, name, p.count, p.share, p.cumulative, p.vital_few])
    _percent(causes, "DE")
    causes.append([])
    causes.append([labels("fishbone")])
    for branch, cats in report.fishbone.items():
        for category, count in cats.items() or [("", 0)]:
            name = labels.category("complaint", category) if category else ""
            causes.append([labels.cause(branch), name, count])

    trend = book.create_sheet(labels("sheet_trend")[:31])
    trend.append(["from", labels("answers"), labels("score"), "fixed"])
    for point in report.trend:
        trend.append(
            [
                point.start.astimezone(tz).date(),
                point.answers,
                point.average_score,
                point.fixed_rate,
            ]
        )
    _percent(trend, "D")

    if charts:
        _place_charts({"pareto": causes, "fishbone": causes, "trend": trend}, charts)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _place_charts(sheets: Mapping[str, Worksheet], charts: Mapping[str, Path]) -> None:
    from openpyxl.drawing.image import Image  # needs Pillow (a matplotlib dependency)

    anchors = {"pareto": "H2", "fishbone": "H28", "trend": "G2"}
    for name, png in charts.items():
        if name in sheets and Path(png).is_file():
            sheets[name].add_image(Image(str(png)), anchors.get(name, "H2"))
