"""The typed SLA state reads and writes ``Ticket.sla`` exactly as the dict code did, so stored
tickets need no migration and ``kefu sla show`` reads the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.sla.state import Pause, SlaState

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

# What the dict code stored for a ticket paused twice, answered and sent to rework.
STORED = {
    "first_response": {"due": "2026-11-27T06:00:00+00:00", "policy": "default", "reason": "..."},
    "resolution": {"due": None, "policy": "default", "reason": "clock paused now"},
    "computed_at": "2026-11-27T03:00:00+00:00",
    "pauses": [
        {"from": "2026-11-27T02:30:00+00:00", "to": "2026-11-27T02:45:00+00:00", "reason": "w"},
        {"from": "2026-11-27T02:50:00+00:00", "to": "2026-11-27T02:55:00+00:00"},
        {"from": "2026-11-27T03:00:00+00:00", "to": None, "reason": "waiting_customer"},
    ],
    "callback_done_at": "2026-11-28T02:00:00+00:00",
    "rework": {"due": "2026-11-29T02:00:00+00:00", "reason": "rework within 1d"},
    "reworks": [
        {"at": "2026-11-28T02:00:00+00:00", "due": "2026-11-29T02:00:00+00:00", "reason": "r"}
    ],
    "someone_elses_key": [1, 2],
}


def test_stored_state_round_trips_unchanged() -> None:
    state = SlaState.from_json(STORED)
    assert state.to_json() == STORED
    assert state.ever_applied and state.callback_met
    assert state.pauses[-1] == Pause(T0 + timedelta(hours=1), None, "waiting_customer")
    assert state.rework is not None and state.rework.reason == "rework within 1d"


def test_operations_write_what_the_dict_code_wrote() -> None:
    state = SlaState.from_json({})
    assert not state.ever_applied and state.to_json() == {}
    state.pause(T0, "waiting_customer")
    state.resume(T0 + timedelta(minutes=5), T0)
    state.resume(T0 + timedelta(minutes=9), T0 + timedelta(minutes=7))  # no open pause
    state.callback_answered(T0)
    state.order_rework(T0, T0 + timedelta(days=1), "why")
    assert state.to_json() == {
        "pauses": [
            {
                "from": "2026-11-27T02:00:00+00:00",
                "to": "2026-11-27T02:05:00+00:00",
                "reason": "waiting_customer",
            },
            {"from": "2026-11-27T02:07:00+00:00", "to": "2026-11-27T02:09:00+00:00"},
        ],
        "callback_done_at": "2026-11-27T02:00:00+00:00",
        "rework": {"due": "2026-11-28T02:00:00+00:00", "reason": "why"},
        "reworks": [
            {"at": "2026-11-27T02:00:00+00:00", "due": "2026-11-28T02:00:00+00:00", "reason": "why"}
        ],
    }


def test_an_unrecorded_pause_still_counts() -> None:
    """``sla_paused_at`` set without a pause entry (older rows) is an open pause."""
    assert SlaState().pause_spans(T0) == [(T0, None)]
    state = SlaState(pauses=[Pause(T0, None)])
    assert state.pause_spans(T0 + timedelta(hours=1)) == [(T0, None)]
