"""Complaint validity: a staff decision in the audit trail; the latest one counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.reports import build_report
from bot.reports.validity import NotAComplaint, set_validity
from bot.store.db import Database
from tests.reports.month import END, NOW, START, seed


async def test_an_invalid_complaint_made_valid_again_is_rated(db: Database) -> None:
    async with db.write() as session:
        tickets = await seed(session)
        # C3 was flagged invalid; a supervisor decides it was valid after all.
        await set_validity(
            session, tickets["C3"], valid=True, actor="staff:Ho", now=NOW - timedelta(hours=1)
        )
        with pytest.raises(NotAComplaint):
            await set_validity(session, tickets["R1"], valid=False, actor="staff:Ho", now=NOW)
    async with db.session() as session:
        report = await build_report(session, START, END, NOW)
    c = report.complaints
    assert c.invalid == 0
    # C1 C5 in time, C2 late, C3 overdue (due 15 Nov, never handled)
    assert (c.handling.met, c.handling.missed, c.handling.overdue) == (2, 1, 1)
    assert c.rate == pytest.approx(2 / 4)
    # A valid complaint's cause is in the Pareto now.
    assert ("parking", 1) in [(r.cause, r.count) for r in report.complaint_pareto]
