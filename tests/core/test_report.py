"""The service report: volumes, SLA compliance, satisfaction, complaint Pareto."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.reports.service import pareto, render_text, summarise
from bot.store.models import Ticket

HK = ZoneInfo("Asia/Hong_Kong")
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=HK)


def ticket(kind: str, category: str, status: str = "open", **kw: object) -> Ticket:
    return Ticket(
        number="X", kind=kind, category=category, status=status, created_at=T0, sla={}, **kw
    )


def test_pareto_marks_the_vital_few() -> None:
    rows = pareto(Counter({"noise": 50, "parking": 25, "sanitation": 15, "staff": 6, "fees": 4}))
    assert [r.cause for r in rows] == ["noise", "parking", "sanitation", "staff", "fees"]
    assert [r.vital_few for r in rows] == [True, True, True, False, False]
    assert rows[-1].cumulative == 1.0


def test_summary_counts_compliance_satisfaction_and_complaints() -> None:
    due = T0 + timedelta(hours=2)
    now = T0 + timedelta(days=3)
    tickets = [
        ticket(
            "repair",
            "water_leak",
            "resolved",
            due_first_response=due,
            first_response_at=T0 + timedelta(hours=1),
            survey_score=5,
            survey_fixed=True,
        ),
        ticket(
            "repair",
            "lift",
            "resolved",
            due_first_response=due,
            first_response_at=T0 + timedelta(hours=3),
            survey_score=2,
            survey_fixed=False,
        ),
        ticket("repair", "lift", "open", due_first_response=due),  # overdue, not answered
        ticket("complaint", "noise", "resolved"),
        ticket("complaint", "noise", "open"),
        ticket("complaint", "parking", "closed"),
    ]
    report = summarise(tickets, T0, T0 + timedelta(days=7), now)
    assert report.total == 6
    assert report.by_kind == {"repair": 3, "complaint": 3}
    assert (
        report.first_response.met,
        report.first_response.breached,
        report.first_response.open_late,
    ) == (1, 1, 1)
    assert report.first_response.rate == 1 / 3
    assert report.average_score == 3.5 and report.fixed_rate == 0.5
    assert report.complaint_handling_rate == 2 / 3
    assert report.complaint_pareto[0].cause == "noise"
    text = render_text(report, HK)
    assert "Tickets opened: 6" in text and "* noise" in text
