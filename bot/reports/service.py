"""Computing the service report from the tickets table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.sla.state import SlaState
from bot.store.models import Ticket


@dataclass
class Compliance:
    """How many deadlines of one kind fell due, and how many were met."""

    due: int = 0
    met: int = 0
    breached: int = 0
    open_late: int = 0  # not met yet and already past due

    @property
    def rate(self) -> float | None:
        decided = self.met + self.breached + self.open_late
        return None if decided == 0 else self.met / decided


@dataclass
class ParetoRow:
    cause: str
    count: int
    share: float
    cumulative: float
    vital_few: bool


@dataclass
class Report:
    """The report for tickets opened in ``[start, end)``."""

    start: datetime
    end: datetime
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    first_response: Compliance = field(default_factory=Compliance)
    resolution: Compliance = field(default_factory=Compliance)
    callback: Compliance = field(default_factory=Compliance)
    surveys: int = 0
    average_score: float | None = None
    score_counts: dict[int, int] = field(default_factory=dict)
    fixed_rate: float | None = None
    complaints: int = 0
    complaint_handling_rate: float | None = None
    complaint_pareto: list[ParetoRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        for name in ("first_response", "resolution", "callback"):
            data[name]["rate"] = getattr(self, name).rate
        return data


def pareto(counts: Counter[str], threshold: float = 0.8) -> list[ParetoRow]:
    """Causes by count, with cumulative share; the "vital few" reach ``threshold`` together."""
    total = sum(counts.values())
    rows: list[ParetoRow] = []
    cumulative = 0
    for cause, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        before = cumulative / total if total else 0.0
        cumulative += count
        rows.append(
            ParetoRow(
                cause=cause,
                count=count,
                share=count / total,
                cumulative=cumulative / total,
                vital_few=before < threshold,
            )
        )
    return rows


def _judge(
    compliance: Compliance, due: datetime | None, done: datetime | None, now: datetime
) -> None:
    if due is None:
        return
    compliance.due += 1
    if done is not None:
        if done <= due:
            compliance.met += 1
        else:
            compliance.breached += 1
    elif now > due:
        compliance.open_late += 1


def summarise(tickets: Iterable[Ticket], start: datetime, end: datetime, now: datetime) -> Report:
    """The report over ``tickets`` (already limited to the period)."""
    report = Report(start=start, end=end)
    kinds: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    scores: Counter[int] = Counter()
    fixed = answered_fixed = complaints_handled = 0
    for t in tickets:
        report.total += 1
        kinds[t.kind] += 1
        categories[f"{t.kind}/{t.category or 'other'}"] += 1
        statuses[t.status] += 1
        _judge(report.first_response, t.due_first_response, t.first_response_at, now)
        _judge(report.resolution, t.due_resolution, t.resolved_at, now)
        _judge(report.callback, t.due_callback, SlaState.of(t).callback_done_at, now)
        if t.survey_score is not None:
            scores[int(t.survey_score)] += 1
        if t.survey_fixed is not None:
            answered_fixed += 1
            fixed += bool(t.survey_fixed)
        if t.kind == "complaint":
            report.complaints += 1
            causes[t.category or "other"] += 1
            complaints_handled += t.is_done
    report.by_kind = dict(kinds.most_common())
    report.by_category = dict(categories.most_common())
    report.by_status = dict(statuses.most_common())
    report.surveys = sum(scores.values())
    report.score_counts = dict(sorted(scores.items()))
    if report.surveys:
        report.average_score = sum(s * n for s, n in scores.items()) / report.surveys
    if answered_fixed:
        report.fixed_rate = fixed / answered_fixed
    if report.complaints:
        report.complaint_handling_rate = complaints_handled / report.complaints
    report.complaint_pareto = pareto(causes)
    return report


async def build_report(
    session: AsyncSession, start: datetime, end: datetime, now: datetime
) -> Report:
    """The report for tickets opened from ``start`` (inclusive) to ``end`` (exclusive)."""
    result = await session.execute(
        select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end)
    )
    tickets: Sequence[Ticket] = result.scalars().all()
    return summarise(tickets, start, end, now)


def render_text(report: Report, tz: Any) -> str:
    """The report as plain text for the terminal."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    lines = [
        f"Kefu service report {report.start.astimezone(tz):%Y-%m-%d} – "
        f"{(report.end.astimezone(tz) - timedelta(days=1)):%Y-%m-%d}",
        "",
        f"Tickets opened: {report.total}",
    ]
    lines += [f"  {kind:<12} {count}" for kind, count in report.by_kind.items()]
    lines += ["", "By status:"] + [f"  {s:<16} {n}" for s, n in report.by_status.items()]
    lines += ["", "SLA compliance (met / decided):"]
    for name in ("first_response", "resolution", "callback"):
        c: Compliance = getattr(report, name)
        lines.append(
            f"  {name:<15} {pct(c.rate):>7}  (met {c.met}, breached {c.breached}, "
            f"overdue {c.open_late}, with a deadline {c.due})"
        )
    lines += ["", f"Satisfaction: {report.surveys} surveys"]
    if report.average_score is not None:
        lines.append(
            f"  average score {report.average_score:.2f} / 5, fixed {pct(report.fixed_rate)}"
        )
        lines.append("  " + "  ".join(f"{s}★ {n}" for s, n in report.score_counts.items()))
    lines += [
        "",
        f"Complaints: {report.complaints}, effective handling rate "
        f"{pct(report.complaint_handling_rate)}",
    ]
    if report.complaint_pareto:
        lines.append("  Pareto of causes (* = the vital few, up to 80% together):")
        for row in report.complaint_pareto:
            mark = "*" if row.vital_few else " "
            lines.append(
                f"  {mark} {row.cause:<18} {row.count:>5}  {pct(row.share):>7}"
                f"  cum {pct(row.cumulative):>7}"
            )
    return "\n".join(lines)
