"""A hand-computed month (November 2026, Hong Kong) for the report tests.

Every figure the report should give is worked out by hand in EXPECTED, from the story below.
The clock says Friday 27 November 10:00, so the month is not over.

R0  repair opened in October, resolved 30 Oct by staff:Wong; call-back due 2 Nov, phoned 1 Nov
    (5, fixed): counts for November's call-backs and satisfaction, not its volumes.
R1  repair 7座12樓B, 2 Nov 10:00, first response due 12:00. staff:Wong phoned at 10:30
    ("contacted") but marked it resolved on 4 Nov (which also set first_response_at then):
    first response MET (10:30). Resolution due 5 Nov: met. Call-back due 7 Nov, done by phone
    5 Nov (4, fixed): MET.
R2  repair 3座5樓A, reopened and reworked: 9 Nov 09:00, answered by an agent 09:30 (due 11:00);
    resolved 10 Nov by agent:7; chat survey 10 Nov 18:00 (2, not fixed) -> rework, reopened;
    resolved again 11 Nov 16:00 by staff:Lee; call-back due 14 Nov 16:00, phoned 12 Nov (5,
    fixed): first response MET, call-back MET (the one after the rework); handled by Lee.
R3  repair 7座3樓C, 20 Nov 10:00, nobody answered: first response (due 12:00) and resolution
    (due 23 Nov) OVERDUE.
R4  repair, no unit, 3 Nov, answered 11:00 (due 12:00), resolved 5 Nov by staff:Wong;
    call-back due 8 Nov, chat survey answered 9 Nov (3, fixed): call-back MISSED (late).
C1  complaint noise 7座1樓A, 2 Nov 09:00, due 5 Nov 09:00, resolved 3 Nov by staff:Wong: MET.
C2  complaint noise, 10 Nov 09:00, due 13 Nov 09:00, closed 14 Nov by staff:Lee: MISSED.
C3  complaint parking, 12 Nov, due 15 Nov, never handled, flagged INVALID by staff:Wong.
C4  complaint sanitation, 27 Nov 09:00 (an hour ago), due 30 Nov: NOT YET DUE.
C5  complaint staff, 16 Nov, due 19 Nov, resolved 17 Nov by staff:Chan: MET.
X   a repair entirely in October: counts nowhere.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Ticket, TicketEvent

HK = ZoneInfo("Asia/Hong_Kong")
ROOT = Path(__file__).resolve().parents[2] / "dialogues"
START = datetime(2026, 11, 1, tzinfo=HK)
END = datetime(2026, 12, 1, tzinfo=HK)
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=HK)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=HK)


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def phone(score: int, fixed: bool) -> dict[str, Any]:
    """The data of a phone call-back event (the ticket audit convention)."""
    return {"score": score, "fixed": fixed, "channel": "phone"}


INVALID = {"valid": False, "reason": "not our car park"}

# number: (ticket fields, [(actor, action, data, at)])
TICKETS: dict[str, tuple[dict[str, Any], list[tuple[str, str, dict[str, Any], datetime]]]] = {
    "R0": (
        dict(kind="repair", category="plumbing", status="resolved", created_at=at(10, 28, 9),
             first_response_at=at(10, 28, 9, 30), due_first_response=at(10, 28, 11),
             resolved_at=at(10, 30, 10), due_callback=at(11, 2, 10)),
        [("staff:Wong", "resolved", {}, at(10, 30, 10)),
         ("staff:Wong", "callback", phone(5, True), at(11, 1, 10))],
    ),
    "R1": (
        dict(kind="repair", category="electrical", status="resolved", unit="7座12樓B",
             created_at=at(11, 2, 10), due_first_response=at(11, 2, 12),
             first_response_at=at(11, 4, 10), resolved_at=at(11, 4, 10),
             due_resolution=at(11, 5, 10), due_callback=at(11, 7, 10)),
        [("staff:Wong", "contacted", {"channel": "phone"}, at(11, 2, 10, 30)),
         ("staff:Wong", "resolved", {}, at(11, 4, 10)),
         ("staff:Wong", "callback", phone(4, True), at(11, 5, 15))],
    ),
    "R2": (
        dict(kind="repair", category="water_leak", status="resolved", unit="3座5樓A",
             created_at=at(11, 9, 9), due_first_response=at(11, 9, 11),
             first_response_at=at(11, 9, 9, 30), resolved_at=at(11, 11, 16),
             due_callback=at(11, 14, 16), survey_score=2, survey_fixed=False,
             sla={"callback_done_at": _iso(at(11, 10, 18))}),
        [("agent:7", "resolved", {}, at(11, 10, 10)),
         ("user:1", "survey_answered", {"score": 2, "fixed": False}, at(11, 10, 18)),
         ("bot", "rework_ordered", {}, at(11, 10, 18)),
         ("user:1", "reopened", {}, at(11, 10, 18)),
         ("staff:Lee", "resolved", {}, at(11, 11, 16)),
         ("staff:Lee", "callback", phone(5, True), at(11, 12, 10))],
    ),
    "R3": (
        dict(kind="repair", category="lift", status="open", unit="7座3樓C",
             created_at=at(11, 20, 10), due_first_response=at(11, 20, 12),
             due_resolution=at(11, 23, 10)),
        [],
    ),
    "R4": (
        dict(kind="repair", category="plumbing", status="resolved", created_at=at(11, 3, 10),
             due_first_response=at(11, 3, 12), first_response_at=at(11, 3, 11),
             resolved_at=at(11, 5, 10), due_callback=at(11, 8, 10), survey_score=3,
             survey_fixed=True, sla={"callback_done_at": _iso(at(11, 9, 10))}),
        [("staff:Wong", "resolved", {}, at(11, 5, 10)),
         ("user:2", "survey_answered", {"score": 3, "fixed": True}, at(11, 9, 10))],
    ),
    "C1": (
        dict(kind="complaint", category="noise", status="resolved", unit="7座1樓A",
             created_at=at(11, 2, 9), due_first_response=at(11, 5, 9), resolved_at=at(11, 3, 9)),
        [("staff:Wong", "resolved", {}, at(11, 3, 9))],
    ),
    "C2": (
        dict(kind="complaint", category="noise", status="closed", created_at=at(11, 10, 9),
             due_first_response=at(11, 13, 9), closed_at=at(11, 14, 9)),
        [("staff:Lee", "closed", {"reason": "settled"}, at(11, 14, 9))],
    ),
    "C3": (
        dict(kind="complaint", category="parking", status="open", created_at=at(11, 12, 9),
             due_first_response=at(11, 15, 9)),
        [("staff:Wong", "validity", INVALID, at(11, 12, 12))],
    ),
    "C4": (
        dict(kind="complaint", category="sanitation", status="open", created_at=at(11, 27, 9),
             due_first_response=at(11, 30, 9)),
        [],
    ),
    "C5": (
        dict(kind="complaint", category="staff", status="resolved", created_at=at(11, 16, 9),
             due_first_response=at(11, 19, 9), resolved_at=at(11, 17, 9)),
        [("staff:Chan", "resolved", {}, at(11, 17, 9))],
    ),
    "X": (
        dict(kind="repair", category="lift", status="resolved", created_at=at(10, 1, 9),
             due_first_response=at(10, 1, 11), first_response_at=at(10, 1, 10),
             resolved_at=at(10, 2, 9), due_callback=at(10, 5, 9)),
        [("staff:Wong", "resolved", {}, at(10, 2, 9))],
    ),
}  # fmt: skip


def last_change(fields: dict[str, Any], events: list[Any]) -> datetime:
    times = [fields["created_at"], *(e[3] for e in events)]
    times += [fields[k] for k in ("resolved_at", "closed_at") if fields.get(k)]
    return max(times)


async def seed(session: AsyncSession) -> dict[str, Ticket]:
    """Write the month's tickets and audit trails (in place of any tickets the database had:
    PostgreSQL databases are shared by a test module); returns them by short name."""
    await session.execute(delete(TicketEvent))
    await session.execute(delete(Ticket))
    out = {}
    for name, (fields, events) in TICKETS.items():
        ticket = Ticket(
            number=f"T-{name}",
            description=name,
            updated_at=last_change(fields, events),
            **{"sla": {}, **fields},
        )
        session.add(ticket)
        await session.flush()
        for actor, action, data, when in events:
            session.add(
                TicketEvent(
                    ticket_id=ticket.id, actor=actor, action=action, data=data, created_at=when
                )
            )
        out[name] = ticket
    await session.flush()
    return out


# The figures, by hand (see the story above).
EXPECTED: dict[str, Any] = {
    "total": 9,  # R1-R4, C1-C5
    "by_kind": {"complaint": 5, "repair": 4},
    # met R1 R2 R4 C1 C5, missed C2 (closed after due), overdue R3 C3, pending C4
    "first_response": {"met": 5, "missed": 1, "overdue": 2, "pending": 1, "rate": 5 / 8},
    "resolution": {"met": 1, "missed": 0, "overdue": 1, "pending": 0, "rate": 1 / 2},
    # met R0 (phone) R1 (phone) R2 (phone, after the rework), missed R4 (chat survey late)
    "callback": {"met": 3, "missed": 1, "overdue": 0, "pending": 0, "rate": 3 / 4},
    "callback_by_channel": {"chat": 2, "phone": 3},
    # C1 C5 met, C2 missed; C4 not yet due; C3 invalid
    "complaints": {"met": 2, "missed": 1, "overdue": 0, "pending": 1, "invalid": 1,
                   "rate": 2 / 3},
    # answers: R0 5, R1 4, R2 2 and 5, R4 3; fixed T T F T T
    "surveys": 5,
    "average_score": 19 / 5,
    "fixed_rate": 4 / 5,
    # valid complaints opened in November
    "pareto": [("noise", 2), ("sanitation", 1), ("staff", 1)],
    "fishbone": {"人": {"staff": 1}, "機": {}, "料": {}, "法": {},
                 "環": {"noise": 2, "sanitation": 1}},
    # name: tickets, complaints, first response rate, call-back rate, average score
    "by_building": {"3": (1, 0, 1.0, 1.0, 3.5), "7": (3, 1, 2 / 3, 1.0, 4.0)},
    "by_agent": {
        "staff:Chan": (1, 1, 1.0, None, None),
        "staff:Lee": (2, 1, 1 / 2, 1.0, 3.5),
        "staff:Wong": (3, 1, 1.0, 2 / 3, 4.0),  # R1 R4 C1 opened; R0 R1 R4 answers 5 4 3
    },
    # weeks from 1 Nov: (answers, average)
    "trend": [(2, 4.5), (3, 10 / 3), (0, None), (0, None), (0, None)],
}  # fmt: skip
