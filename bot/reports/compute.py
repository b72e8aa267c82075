"""The service report computed from :class:`~bot.reports.facts.TicketFacts`: pure functions.

Volumes count tickets **opened** in the period. Every rate counts deadlines **due** in the
period that are decided: met (done in time, even early), missed (done late), or overdue (not
done, already past due). A deadline not yet due and not yet met is *pending*: it counts nowhere,
so a complaint that came in an hour ago does not lower the handling rate.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from bot.reports.collection import CollectionRow
from bot.reports.facts import Answer, TicketFacts


@dataclass
class Compliance:
    """Deadlines of one kind due in the period: met, missed, overdue and still pending."""

    met: int = 0
    missed: int = 0  # done after the deadline
    overdue: int = 0  # not done, past the deadline
    pending: int = 0  # due later than now, not done yet: not counted

    @property
    def decided(self) -> int:
        return self.met + self.missed + self.overdue

    @property
    def rate(self) -> float | None:
        return None if self.decided == 0 else self.met / self.decided

    def judge(self, due: datetime | None, done: datetime | None, now: datetime) -> None:
        """Count one deadline."""
        if due is None:
            return
        if done is not None and done <= due:
            self.met += 1
        elif done is not None:
            self.missed += 1
        elif now > due:
            self.overdue += 1
        else:
            self.pending += 1

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decided": self.decided, "rate": self.rate}


@dataclass
class Complaints:
    """Complaints due in the period; invalid ones are shown but not rated."""

    target: float
    handling: Compliance = field(default_factory=Compliance)
    invalid: int = 0
    cancelled: int = 0

    @property
    def rate(self) -> float | None:
        return self.handling.rate

    @property
    def on_target(self) -> bool | None:
        return None if self.rate is None else self.rate >= self.target

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "rate": self.rate,
            "on_target": self.on_target,
            "invalid": self.invalid,
            "cancelled": self.cancelled,
            **{f"handling_{k}": v for k, v in self.handling.as_dict().items() if k != "rate"},
        }


@dataclass
class GroupRow:
    """One building's or one agent's figures."""

    name: str
    tickets: int = 0
    complaints: int = 0
    first_response: Compliance = field(default_factory=Compliance)
    callback: Compliance = field(default_factory=Compliance)
    scores: list[int] = field(default_factory=list)

    @property
    def average_score(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tickets": self.tickets,
            "complaints": self.complaints,
            "first_response_rate": self.first_response.rate,
            "callback_rate": self.callback.rate,
            "surveys": len(self.scores),
            "average_score": self.average_score,
        }


@dataclass
class TrendPoint:
    """Satisfaction in one slice of the period (a day or a week)."""

    start: datetime
    answers: int
    average_score: float | None
    fixed_rate: float | None


@dataclass
class ParetoRow:
    cause: str
    count: int
    share: float
    cumulative: float
    vital_few: bool


@dataclass
class Report:
    """The report for ``[start, end)`` as of ``now``."""

    start: datetime
    end: datetime
    now: datetime
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    first_response: Compliance = field(default_factory=Compliance)
    resolution: Compliance = field(default_factory=Compliance)
    callback: Compliance = field(default_factory=Compliance)
    callback_by_channel: dict[str, int] = field(default_factory=dict)
    complaints: Complaints = field(default_factory=lambda: Complaints(0.95))
    surveys: int = 0
    average_score: float | None = None
    score_counts: dict[int, int] = field(default_factory=dict)
    fixed_rate: float | None = None
    trend: list[TrendPoint] = field(default_factory=list)
    by_building: list[GroupRow] = field(default_factory=list)
    by_agent: list[GroupRow] = field(default_factory=list)
    complaint_pareto: list[ParetoRow] = field(default_factory=list)
    fishbone: dict[str, dict[str, int]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # actor -> a person's name
    collection: list[CollectionRow] = field(default_factory=list)  # fees collected / billed

    def as_dict(self) -> dict[str, Any]:
        """Plain data (``--json``, the workbook): rates included."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "now": self.now.isoformat(),
            "total": self.total,
            "by_kind": self.by_kind,
            "by_category": self.by_category,
            "by_status": self.by_status,
            "first_response": self.first_response.as_dict(),
            "resolution": self.resolution.as_dict(),
            "callback": self.callback.as_dict(),
            "callback_by_channel": self.callback_by_channel,
            "complaints": self.complaints.as_dict(),
            "surveys": self.surveys,
            "average_score": self.average_score,
            "score_counts": self.score_counts,
            "fixed_rate": self.fixed_rate,
            "trend": [{**asdict(p), "start": p.start.isoformat()} for p in self.trend],
            "by_building": [row.as_dict() for row in self.by_building],
            "by_agent": [
                {**row.as_dict(), "person": self.names.get(row.name)} for row in self.by_agent
            ],
            "complaint_pareto": [asdict(row) for row in self.complaint_pareto],
            "fishbone": self.fishbone,
            "collection": [row.as_dict() for row in self.collection],
        }


def pareto(counts: Mapping[str, int], threshold: float = 0.8) -> list[ParetoRow]:
    """Causes by count, with cumulative share; the "vital few" reach ``threshold`` together."""
    total = sum(counts.values())
    rows: list[ParetoRow] = []
    cumulative = 0
    for cause, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if count <= 0:
            continue
        before = cumulative / total
        cumulative += count
        rows.append(ParetoRow(cause, count, count / total, cumulative / total, before < threshold))
    return rows


def fishbone(
    counts: Mapping[str, int], causes: Mapping[str, str], unmapped: str
) -> dict[str, dict[str, int]]:
    """Complaint categories under the five branches 人 機 料 法 環 (every branch present)."""
    bones: dict[str, dict[str, int]] = {branch: {} for branch in ("人", "機", "料", "法", "環")}
    for category, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        bones.setdefault(causes.get(category, unmapped), {})[category] = count
    return bones


def _in(at: datetime | None, start: datetime, end: datetime) -> TypeGuard[datetime]:
    return at is not None and start <= at < end


def _slices(start: datetime, end: datetime) -> tuple[list[datetime], timedelta]:
    """Days for a period up to two weeks, weeks (from ``start``) for a longer one."""
    step = timedelta(days=1) if end - start <= timedelta(days=14) else timedelta(days=7)
    points, at = [], start
    while at < end:
        points.append(at)
        at += step
    return points, step


def _trend(answers: list[Answer], start: datetime, end: datetime) -> list[TrendPoint]:
    points, step = _slices(start, end)
    out = []
    for at in points:
        inside = [a for a in answers if at <= a.at < min(at + step, end)]
        scores = [a.score for a in inside if a.score is not None]
        fixed = [a.fixed for a in inside if a.fixed is not None]
        out.append(
            TrendPoint(
                start=at,
                answers=len(inside),
                average_score=sum(scores) / len(scores) if scores else None,
                fixed_rate=sum(fixed) / len(fixed) if fixed else None,
            )
        )
    return out


def summarise(
    facts: Iterable[TicketFacts],
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    complaint_target: float = 0.95,
    causes: Mapping[str, str] | None = None,
    unmapped_cause: str = "法",
) -> Report:
    """The report over ``facts`` (every ticket that may matter to ``[start, end)``)."""
    report = Report(start=start, end=end, now=now, complaints=Complaints(complaint_target))
    kinds: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    complaint_causes: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    answers: list[Answer] = []
    buildings: dict[str, GroupRow] = defaultdict(lambda: GroupRow(""))
    agents: dict[str, GroupRow] = defaultdict(lambda: GroupRow(""))
    for f in facts:
        groups = [buildings[f.building]] if f.building else []
        groups += [agents[f.handler]] if f.handler else []
        if _in(f.created_at, start, end):
            report.total += 1
            kinds[f.kind] += 1
            categories[f"{f.kind}/{f.category}"] += 1
            statuses[f.status] += 1
            for g in groups:
                g.tickets += 1
                g.complaints += f.kind == "complaint"
            if f.kind == "complaint" and f.valid:
                complaint_causes[f.category] += 1
        due = f.due_first_response
        if _in(due, start, end) and f.owes(due, f.first_contact):
            for c in (report.first_response, *(g.first_response for g in groups)):
                c.judge(due, f.first_contact, now)
        due = f.due_resolution
        if _in(due, start, end) and f.owes(due, f.done_at):
            report.resolution.judge(due, f.done_at, now)
        due = f.due_callback
        if _in(due, start, end) and f.owes(due, f.callback_at):
            for c in (report.callback, *(g.callback for g in groups)):
                c.judge(due, f.callback_at, now)
        if f.kind == "complaint" and _in(f.complaint_due, start, end):
            if f.cancelled:
                report.complaints.cancelled += 1
            elif not f.valid:
                report.complaints.invalid += 1
            else:
                report.complaints.handling.judge(f.complaint_due, f.done_at, now)
        for a in f.answers:
            if _in(a.at, start, end):
                answers.append(a)
                channels[a.channel] += 1
                if a.score is not None:
                    for g in groups:
                        g.scores.append(a.score)
    report.by_kind = dict(kinds.most_common())
    report.by_category = dict(categories.most_common())
    report.by_status = dict(statuses.most_common())
    report.callback_by_channel = dict(sorted(channels.items()))
    scores = Counter(a.score for a in answers if a.score is not None)
    report.surveys = len(answers)
    report.score_counts = dict(sorted(scores.items()))
    if scores:
        report.average_score = sum(s * n for s, n in scores.items()) / sum(scores.values())
    fixed = [a.fixed for a in answers if a.fixed is not None]
    report.fixed_rate = sum(fixed) / len(fixed) if fixed else None
    report.trend = _trend(answers, start, end)
    for rows, target in ((buildings, report.by_building), (agents, report.by_agent)):
        for name, row in sorted(rows.items()):
            row.name = name
            target.append(row)
    report.complaint_pareto = pareto(complaint_causes)
    report.fishbone = fishbone(complaint_causes, causes or {}, unmapped_cause)
    return report
