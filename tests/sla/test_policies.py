"""SLA policies: which promise applies, deadlines with reasons, pause/resume on real databases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.config import ConfigError, Settings, load_settings
from bot.followups.deadlines import apply_deadlines, pause_sla, resume_sla
from bot.followups.models import Followup, FollowupKind, FollowupStatus
from bot.sla.policies import compute_deadlines, rework_deadline
from bot.store.db import Database
from bot.store.models import Ticket, TicketEvent
from bot.tickets import open_ticket

HK = ZoneInfo("Asia/Hong_Kong")


@dataclass
class FakeTicket:
    """Only the fields deadline computation reads (a plain value object, not our code)."""

    kind: str = "repair"
    category: str | None = None
    priority: str = "normal"
    created_at: datetime = field(default_factory=lambda: datetime(2026, 11, 27, 10, tzinfo=HK))
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    sla_paused_at: datetime | None = None
    sla: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def cfg() -> Settings:
    return load_settings(environ={})


def test_repair_callback_windows_follow_the_office_promise(cfg: Settings) -> None:
    resolved = datetime(2026, 11, 27, 15, 0, tzinfo=HK)
    now = resolved
    for category, days in (("safety", 2), ("water_leak", 3), ("electrical", 7), (None, 7)):
        t = FakeTicket(category=category, resolved_at=resolved)
        d = compute_deadlines(t, cfg, now)
        assert d.callback is not None
        assert d.callback.due == resolved + timedelta(days=days), category
        assert "call-back within" in d.callback.reason


def test_no_callback_before_resolution(cfg: Settings) -> None:
    d = compute_deadlines(FakeTicket(category="safety"), cfg, datetime.now(UTC))
    assert d.callback is None
    assert d.first_response is not None and d.resolution is not None


def test_complaint_answered_within_72_hours(cfg: Settings) -> None:
    created = datetime(2026, 11, 27, 23, 0, tzinfo=HK)
    d = compute_deadlines(FakeTicket(kind="complaint", created_at=created), cfg, created)
    assert d.first_response is not None
    assert d.first_response.due == created + timedelta(hours=72)
    assert d.first_response.policy == "complaint"
    assert "policy 'complaint'" in d.first_response.reason


def test_default_first_response_in_business_hours(cfg: Settings) -> None:
    created = datetime(2026, 11, 27, 17, 30, tzinfo=HK)  # Friday, office closes 18:00
    d = compute_deadlines(FakeTicket(kind="inquiry", created_at=created), cfg, created)
    assert d.first_response is not None
    # 30 min on Friday + 90 min from Saturday 09:00.
    assert d.first_response.due == datetime(2026, 11, 28, 10, 30, tzinfo=HK)
    assert "business time on calendar 'office'" in d.first_response.reason


def test_urgent_repair_runs_on_24x7_and_keeps_its_category_callback(cfg: Settings) -> None:
    created = datetime(2026, 11, 27, 23, 0, tzinfo=HK)
    t = FakeTicket(category="water_leak", priority="urgent", created_at=created)
    d = compute_deadlines(t, cfg, created)
    assert d.first_response is not None and d.first_response.policy == "emergency"
    assert d.first_response.due == created + timedelta(minutes=15)
    assert d.alert_on_open
    t.resolved_at = created + timedelta(hours=3)
    d = compute_deadlines(t, cfg, created)
    assert d.callback is not None and d.callback.policy == "repair-water-leak"


def test_pauses_do_not_count(cfg: Settings) -> None:
    created = datetime(2026, 11, 27, 9, 0, tzinfo=HK)  # Friday
    # Paused 10:00-17:00 Friday: only 1h (09-10) counted, 1h left from 17:00 -> 18:00.
    pauses = [{"from": "2026-11-27T02:00:00+00:00", "to": "2026-11-27T09:00:00+00:00"}]
    t = FakeTicket(kind="inquiry", created_at=created, sla={"pauses": pauses})
    d = compute_deadlines(t, cfg, created)
    assert d.first_response is not None
    assert d.first_response.due == datetime(2026, 11, 27, 18, 0, tzinfo=HK)
    assert d.first_response.paused == timedelta(hours=7)
    assert "paused" in d.first_response.reason
    # While paused now, the deadline is unknown.
    t2 = FakeTicket(kind="inquiry", created_at=created, sla_paused_at=created + timedelta(hours=1))
    d2 = compute_deadlines(t2, cfg, created + timedelta(hours=3))
    assert d2.first_response is not None and d2.first_response.due is None


def test_rework_within_24_hours(cfg: Settings) -> None:
    now = datetime(2026, 11, 27, 16, 0, tzinfo=HK)
    due, reason = rework_deadline(cfg, now)
    assert due == now + timedelta(hours=24)
    assert "rework within 1d" in reason


def test_unknown_calendar_in_policy_is_a_config_error() -> None:
    bad = {"policies": [{"name": "x", "first_response": {"within": "1h", "calendar": "nope"}}]}
    with pytest.raises(ConfigError, match="calendar"):
        load_settings(environ={}, sla=bad)


def test_bad_quiet_hours_and_warn_fractions_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"sla\.quiet_hours"):
        load_settings(environ={"KEFU_SLA__QUIET_HOURS": "late"})
    with pytest.raises(ConfigError, match=r"sla\.warn_at"):
        load_settings(environ={"KEFU_SLA__WARN_AT": "[1.5]"})


async def test_apply_pause_resume_audited(db: Database, clock: FrozenClock) -> None:
    cfg = load_settings(environ={})
    async with db.write() as s:
        ticket = await open_ticket(
            s, kind="repair", category="electrical", now=clock.now(), actor="user:1"
        )
        d = await apply_deadlines(s, ticket, cfg, clock.now())
        assert ticket.due_first_response == d.first_response.due if d.first_response else False
        assert ticket.sla["first_response"]["policy"] == "default"
        ticket_id = ticket.id
        first_due = ticket.due_first_response
    assert first_due is not None
    # Follow-ups for the warning (75 %) and the breach, in the same transaction.
    async with db.session() as s:
        rows = (
            (await s.execute(select(Followup).where(Followup.ticket_id == ticket_id)))
            .scalars()
            .all()
        )
        kinds = sorted((r.kind, r.payload["which"]) for r in rows if r.status == "pending")
        assert kinds == [
            ("sla_breach", "first_response"),
            ("sla_breach", "resolution"),
            ("sla_warning", "first_response"),
            ("sla_warning", "resolution"),
        ]
    clock.advance(minutes=30)
    async with db.write() as s:
        paused = await s.get(Ticket, ticket_id)
        assert paused is not None
        assert await pause_sla(s, paused, cfg, clock.now(), actor="agent:7")
        assert not await pause_sla(s, paused, cfg, clock.now())
        assert paused.due_first_response is None
    clock.advance(hours=3)
    async with db.write() as s:
        resumed = await s.get(Ticket, ticket_id)
        assert resumed is not None
        assert await resume_sla(s, resumed, cfg, clock.now(), actor="agent:7")
        assert resumed.due_first_response == first_due + timedelta(hours=3)
        events = (
            (await s.execute(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket_id)))
            .scalars()
            .all()
        )
        assert "sla_paused" in events and "sla_resumed" in events
    async with db.session() as s:
        rows = (
            (await s.execute(select(Followup).where(Followup.ticket_id == ticket_id)))
            .scalars()
            .all()
        )
        pending = [r for r in rows if r.status == FollowupStatus.PENDING]
        cancelled = [r for r in rows if r.status == FollowupStatus.CANCELLED]
        assert len(pending) == 4 and len(cancelled) == 4
        breach = next(
            r
            for r in pending
            if r.kind == FollowupKind.SLA_BREACH and r.payload["which"] == "first_response"
        )
        assert breach.due_at == first_due + timedelta(hours=3)
