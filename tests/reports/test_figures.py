"""The report's figures against a hand-computed month (tests/reports/month.py), read from a
real database: SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.reports import build_report, pareto
from bot.reports.compute import Report
from bot.store.db import Database
from bot.store.models import Contact, Conversation, Message, Ticket, TicketEvent
from tests.reports.month import END, EXPECTED, NOW, START, at, seed


@pytest.fixture
async def report(db: Database) -> Report:
    async with db.write() as session:
        await seed(session)
    async with db.session() as session:
        return await build_report(session, START, END, NOW)


def _counts(c: object) -> dict[str, object]:
    return {k: getattr(c, k) for k in ("met", "missed", "overdue", "pending", "rate")}


async def test_volumes_count_tickets_opened_in_the_month(report: Report) -> None:
    assert report.total == EXPECTED["total"]
    assert report.by_kind == EXPECTED["by_kind"]


async def test_first_response_counts_the_first_contact_by_anyone(report: Report) -> None:
    assert _counts(report.first_response) == EXPECTED["first_response"]
    assert _counts(report.resolution) == EXPECTED["resolution"]


async def test_call_backs_by_phone_and_after_a_rework_count(report: Report) -> None:
    assert _counts(report.callback) == EXPECTED["callback"]
    assert report.callback_by_channel == EXPECTED["callback_by_channel"]


async def test_complaints_not_yet_due_and_invalid_ones_are_not_failures(report: Report) -> None:
    c = report.complaints
    expected = EXPECTED["complaints"]
    assert (c.handling.met, c.handling.missed, c.handling.overdue, c.handling.pending) == (
        expected["met"], expected["missed"], expected["overdue"], expected["pending"]
    )  # fmt: skip
    assert c.invalid == expected["invalid"]
    assert c.rate == pytest.approx(expected["rate"])
    assert c.target == 0.95 and c.on_target is False


async def test_satisfaction_and_its_trend(report: Report) -> None:
    assert report.surveys == EXPECTED["surveys"]
    assert report.average_score == pytest.approx(EXPECTED["average_score"])
    assert report.fixed_rate == pytest.approx(EXPECTED["fixed_rate"])
    trend = [(p.answers, p.average_score) for p in report.trend]
    assert [n for n, _ in trend] == [n for n, _ in EXPECTED["trend"]]
    for (_, got), (_, want) in zip(trend, EXPECTED["trend"], strict=True):
        assert got == (None if want is None else pytest.approx(want))


async def test_per_building_and_per_agent(report: Report) -> None:
    for rows, expected in ((report.by_building, "by_building"), (report.by_agent, "by_agent")):
        got = {
            r.name: (r.tickets, r.complaints, r.first_response.rate, r.callback.rate,
                     r.average_score)
            for r in rows
        }  # fmt: skip
        assert got.keys() == EXPECTED[expected].keys()
        for name, values in EXPECTED[expected].items():
            assert got[name] == pytest.approx(values), name


async def test_complaint_causes_pareto_and_fishbone(report: Report) -> None:
    assert [(r.cause, r.count) for r in report.complaint_pareto] == EXPECTED["pareto"]
    assert report.fishbone == EXPECTED["fishbone"]


async def test_a_new_complaint_does_not_halve_the_handling_rate(db: Database) -> None:
    """The measured bug: 100 % fell to 50 % an hour after a new complaint came in."""
    async with db.write() as session:
        await seed(session)
    async with db.session() as session:
        before = await build_report(session, START, END, NOW - timedelta(hours=2))
        after = await build_report(session, START, END, NOW)
    assert before.complaints.rate == after.complaints.rate
    assert after.complaints.handling.pending == before.complaints.handling.pending == 1


def test_pareto_marks_the_vital_few() -> None:
    rows = pareto({"noise": 50, "parking": 25, "sanitation": 15, "staff": 6, "fees": 4})
    assert [r.cause for r in rows] == ["noise", "parking", "sanitation", "staff", "fees"]
    assert [r.vital_few for r in rows] == [True, True, True, False, False]
    assert rows[-1].cumulative == 1.0


async def test_an_agents_reply_in_the_chat_is_a_first_contact(db: Database) -> None:
    """R5: an agent answered in the chat at 10:20 (due 10:30), nobody set first_response_at."""
    async with db.write() as session:
        await seed(session)
        contact = Contact(created_at=at(11, 6, 9), updated_at=at(11, 6, 9))
        session.add(contact)
        await session.flush()
        chat = Conversation(contact_id=contact.id, channel="telegram", chat_id="555",
                            created_at=at(11, 6, 9), updated_at=at(11, 6, 9))  # fmt: skip
        session.add(chat)
        await session.flush()
        session.add(
            Ticket(
                number="T-R5",
                kind="repair",
                category="lift",
                status="open",
                conversation_id=chat.id,
                created_at=at(11, 6, 10),
                updated_at=at(11, 6, 10),
                due_first_response=at(11, 6, 10, 30),
                sla={},
            )
        )
        for sender, minute in (("bot", 1), ("agent:7", 20), ("agent:7", 50)):
            session.add(
                Message(
                    conversation_id=chat.id,
                    direction="out",
                    sender=sender,
                    text="…",
                    created_at=at(11, 6, 10, minute),
                )
            )
    async with db.session() as session:
        report = await build_report(session, START, END, NOW)
    assert report.first_response.met == EXPECTED["first_response"]["met"] + 1
    assert report.first_response.overdue == EXPECTED["first_response"]["overdue"]


async def test_agents_are_named_in_the_per_agent_rows(db: Database) -> None:
    from bot.agents.models import Agent
    from bot.reports.cli import agent_names
    from bot.reports.labels import Labels
    from bot.reports.text import render_text
    from tests.reports.month import HK, ROOT

    async with db.write() as session:
        tickets = await seed(session)
        session.add(Agent(id=7, telegram_user_id=7007, name="Alice", role="agent",
                          created_at=NOW, updated_at=NOW))  # fmt: skip
        await session.flush()
        session.add(
            TicketEvent(
                ticket_id=tickets["R3"].id,
                actor="agent:7",
                action="contacted",
                data={},
                created_at=at(11, 20, 11),
            )
        )
    async with db.session() as session:
        report = await build_report(session, START, END, NOW, names=agent_names)
    assert report.names["agent:7"] == "Alice"
    [row] = [r for r in report.by_agent if r.name == "agent:7"]
    assert (row.tickets, row.first_response.met) == (1, 1)  # R3 answered at 11:00 now
    assert "Alice | 1 | 0 | 100.0%" in render_text(report, HK, Labels.load(ROOT, "en"))
