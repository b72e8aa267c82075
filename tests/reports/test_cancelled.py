"""Cancelled tickets: a deadline that fell after the customer withdrew the request is owed to
nobody; one met before, or one missed before the cancellation, still counts. Pure functions
over tickets and events (no database)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.reports.compute import summarise
from bot.reports.facts import facts_of
from bot.store.models import Ticket, TicketEvent

HK = ZoneInfo("Asia/Hong_Kong")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=HK)
START, END, NOW = T0 - timedelta(days=1), T0 + timedelta(days=10), T0 + timedelta(days=5)


def cancelled(
    number: str, kind: str, after: timedelta, **kw: object
) -> tuple[Ticket, list[TicketEvent]]:
    at = T0 + after
    ticket = Ticket(id=len(number), number=number, kind=kind, category="noise", status="cancelled",
                    created_at=T0, updated_at=at, closed_at=at, sla={}, **kw)  # fmt: skip
    return ticket, [TicketEvent(actor="user:1", action="cancelled", data={}, created_at=at)]


def test_a_request_withdrawn_before_its_deadline_owes_nothing() -> None:
    rows = [
        # withdrawn at 10:30, reply due 12:00: not counted
        cancelled("A", "repair", timedelta(minutes=30), due_first_response=T0 + timedelta(hours=2)),
        # withdrawn at 14:00, reply was due 12:00 and nobody answered: overdue all the same
        cancelled("BB", "repair", timedelta(hours=4), due_first_response=T0 + timedelta(hours=2)),
        # a complaint withdrawn: shown as cancelled, not rated
        cancelled("CC", "complaint", timedelta(hours=1), due_first_response=T0 + timedelta(days=3)),
    ]  # fmt: skip
    report = summarise([facts_of(t, e) for t, e in rows], START, END, NOW)
    fr = report.first_response
    assert (fr.met, fr.missed, fr.overdue, fr.pending) == (0, 0, 1, 0)
    assert report.complaints.cancelled == 1 and report.complaints.rate is None
    assert report.by_status == {"cancelled": 3}
