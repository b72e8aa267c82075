"""The report as plain text: the terminal, and the message to the managers' chat."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from bot.reports.compute import Compliance, GroupRow, Report
from bot.reports.labels import Labels


def pct(value: float | None) -> str:
    """A rate as a percentage with one decimal ("n/a" when nothing was decided)."""
    return "n/a" if value is None else f"{value * 100:.1f}%"


def who(actor: str, names: Mapping[str, str] | None = None) -> str:
    """An actor string as a name: the agent's name when known (``names``), ``staff:Wong`` ->
    ``Wong``, else ``agent:12`` -> ``agent 12``."""
    if names and actor in names:
        return names[actor]
    kind, _, name = actor.partition(":")
    return name if kind == "staff" and name else actor.replace(":", " ")


def period_days(report: Report, tz: tzinfo) -> tuple[str, str]:
    """First and last day of the period, in the office timezone."""
    last = report.end.astimezone(tz) - timedelta(microseconds=1)
    return f"{report.start.astimezone(tz):%Y-%m-%d}", f"{last:%Y-%m-%d}"


def _when(at: datetime, tz: tzinfo) -> str:
    return f"{at.astimezone(tz):%Y-%m-%d %H:%M}"


def compliance_line(labels: Labels, name: str, c: Compliance) -> str:
    counts = labels(
        "compliance_line", met=c.met, missed=c.missed, overdue=c.overdue, pending=c.pending
    )
    return f"  {labels(name)}: {pct(c.rate)} ({c.met}/{c.decided}; {counts})"


def group_lines(
    labels: Labels, rows: list[GroupRow], building: bool, names: Mapping[str, str] | None = None
) -> list[str]:
    out = [f"  {labels('group_header')}"]
    for row in rows:
        name = labels.building(row.name) if building else who(row.name, names)
        score = f"{row.average_score:.2f}" if row.average_score is not None else "—"
        out.append(
            f"  {name} | {row.tickets} | {row.complaints} | {pct(row.first_response.rate)} | "
            f"{pct(row.callback.rate)} | {score}"
        )
    return out


def collection_lines(labels: Labels, report: Report) -> list[str]:
    """The fee collection rate per period and building (nothing without fee items)."""
    if not report.collection:
        return []
    out = ["", labels("collection") + ":", f"  {labels('collection_header')}"]
    for row in report.collection:
        where = labels("all_buildings") if row.building == "*" else labels.building(row.building)
        out.append(
            f"  {row.period} | {where} | {row.units} | {row.billed} | {row.collected} | "
            f"{pct(row.rate)}"
        )
    return out


def render_text(report: Report, tz: tzinfo, labels: Labels) -> str:
    """Every figure of the report, one section after another."""
    first, last = period_days(report, tz)
    lines = [
        labels("title", start=first, end=last) + f" ({labels('as_of', now=_when(report.now, tz))})",
        "",
        labels("opened", count=report.total),
    ]
    lines += [f"  {labels.kind(kind)}: {count}" for kind, count in report.by_kind.items()]
    lines += ["", labels("by_status") + ":"]
    lines += [f"  {labels.status(s)}: {n}" for s, n in report.by_status.items()]
    lines += ["", labels("deadlines") + ":"]
    for name in ("first_response", "resolution", "callback"):
        lines.append(compliance_line(labels, name, getattr(report, name)))
    channels = report.callback_by_channel
    lines.append(
        "  "
        + labels("callback_channels", chat=channels.get("chat", 0), phone=channels.get("phone", 0))
    )
    c = report.complaints
    verdict = (
        "" if c.on_target is None else f", {labels('on_target' if c.on_target else 'below_target')}"
    )
    h = c.handling
    lines += [
        "",
        f"{labels('complaints')}: {pct(c.rate)} ({labels('target')} {pct(c.target)}{verdict})",
        "  "
        + labels(
            "complaint_line",
            decided=h.decided,
            met=h.met,
            missed=h.missed,
            overdue=h.overdue,
            pending=h.pending,
            invalid=c.invalid,
            cancelled=c.cancelled,
        ),
        "",
        labels("satisfaction", count=report.surveys),
    ]
    if report.average_score is not None:
        lines.append(
            "  "
            + labels("average", score=f"{report.average_score:.2f}", fixed=pct(report.fixed_rate))
        )
        lines.append("  " + "  ".join(f"{s}★ {n}" for s, n in report.score_counts.items()))
    if any(p.answers for p in report.trend):
        lines.append(f"  {labels('trend')}:")
        for p in report.trend:
            if p.answers:
                score = f"{p.average_score:.2f}" if p.average_score is not None else "—"
                lines.append(f"    {p.start.astimezone(tz):%Y-%m-%d}  {p.answers:>4}  {score}")
    if report.by_building:
        lines += ["", labels("by_building") + ":", *group_lines(labels, report.by_building, True)]
    lines += collection_lines(labels, report)
    if report.by_agent:
        lines += [
            "",
            labels("by_agent") + ":",
            *group_lines(labels, report.by_agent, False, report.names),
        ]
    if report.complaint_pareto:
        lines += ["", labels("pareto") + ":"]
        for row in report.complaint_pareto:
            mark = "*" if row.vital_few else " "
            lines.append(
                f"  {mark} {labels.category('complaint', row.cause)}: {row.count}  {pct(row.share)}"
                f"  {labels('cumulative')} {pct(row.cumulative)}"
            )
        lines += ["", labels("fishbone") + ":"]
        for branch, cats in report.fishbone.items():
            items = ", ".join(f"{labels.category('complaint', cat)} {n}" for cat, n in cats.items())
            items = items or labels("none")
            lines.append(f"  {labels.cause(branch)}: {items}")
    return "\n".join(lines)
