"""Business calendars: examples with real HK/CN holidays, DST zones, and hypothesis properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import CalendarSettings, load_settings
from bot.sla.calendar import (
    Calendar,
    CalendarError,
    build_calendars,
    end_of_quiet_hours,
)

HK = ZoneInfo("Asia/Hong_Kong")
SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def office(holidays: str = "HK", tz: str = "Asia/Hong_Kong", **kw: object) -> Calendar:
    cfg = CalendarSettings.model_validate(
        {"hours": {"mon-fri": ["08:30-18:00"], "sat-sun": ["09:00-17:00"]}, "holidays": holidays}
        | kw
    )
    return Calendar.from_settings("office", cfg, tz)


def test_default_settings_give_the_office_promise() -> None:
    cals = build_calendars(load_settings(environ={}))
    cal = cals["office"]
    assert cal.hours_on(date(2026, 11, 27)) == [(8 * 60 + 30, 18 * 60)]  # Friday
    assert cal.hours_on(date(2026, 11, 28)) == [(9 * 60, 17 * 60)]  # Saturday
    assert "24x7" in cals


def test_within_one_day_and_across_the_night() -> None:
    cal = office()
    fri_17 = datetime(2026, 11, 27, 17, 0, tzinfo=HK)
    assert cal.add(fri_17, timedelta(minutes=30)) == datetime(2026, 11, 27, 17, 30, tzinfo=HK)
    # One hour left on Friday, then Saturday opens at 09:00.
    assert cal.add(fri_17, timedelta(hours=2)) == datetime(2026, 11, 28, 10, 0, tzinfo=HK)
    # Exactly the rest of the day lands on closing time, not on the next morning.
    assert cal.add(fri_17, timedelta(hours=1)) == datetime(2026, 11, 27, 18, 0, tzinfo=HK)


def test_start_in_closed_hours_counts_from_opening() -> None:
    cal = office()
    night = datetime(2026, 11, 26, 23, 0, tzinfo=HK)  # Thursday night
    assert cal.add(night, timedelta(hours=1)) == datetime(2026, 11, 27, 9, 30, tzinfo=HK)
    assert not cal.is_open(night)
    assert cal.next_open(night) == datetime(2026, 11, 27, 8, 30, tzinfo=HK)


def test_hk_christmas_and_boxing_day_are_closed() -> None:
    cal = office()
    thu = datetime(2026, 12, 24, 17, 0, tzinfo=HK)
    # 25 Dec (Fri) and 26 Dec (Sat) are HK public holidays; Sunday opens 09:00.
    assert cal.holiday_name(date(2026, 12, 25)) is not None
    assert cal.add(thu, timedelta(hours=2)) == datetime(2026, 12, 27, 10, 0, tzinfo=HK)
    assert cal.between(thu, datetime(2026, 12, 27, 10, 0, tzinfo=HK)) == timedelta(hours=2)


def test_cn_spring_festival_and_adjusted_working_saturday() -> None:
    cal = office(holidays="CN", tz="Asia/Shanghai")
    # 2026-02-14 (Sat) is a working day by decree (調休) -> weekday hours 08:30-18:00.
    assert cal.is_adjusted_workday(date(2026, 2, 14))
    assert cal.hours_on(date(2026, 2, 14)) == [(8 * 60 + 30, 18 * 60)]
    # Spring Festival 16-20 and 23 Feb are days off; 21-22 Feb are an ordinary weekend.
    for day in (16, 17, 18, 19, 20, 23):
        assert cal.hours_on(date(2026, 2, day)) == [], day
    fri = datetime(2026, 2, 13, 17, 0, tzinfo=SH)
    # 1h Friday + 9.5h Saturday (adjusted workday) + 3.5h... -> Sunday 15th 09:00 + 3.5h.
    assert cal.add(fri, timedelta(hours=14)) == datetime(2026, 2, 15, 12, 30, tzinfo=SH)
    # From the eve of the holiday: nothing until Saturday the 21st.
    sun = datetime(2026, 2, 15, 16, 0, tzinfo=SH)
    assert cal.add(sun, timedelta(hours=2)) == datetime(2026, 2, 21, 10, 0, tzinfo=SH)


def test_extra_closed_and_extra_open_dates() -> None:
    cal = office(extra_closed=["2026-11-30"], extra_open=["2026-12-25"])
    assert cal.hours_on(date(2026, 11, 30)) == []
    assert cal.hours_on(date(2026, 12, 25)) == [(8 * 60 + 30, 18 * 60)]


def test_several_intervals_per_day_and_overnight_shift() -> None:
    cfg = CalendarSettings(
        hours={"mon-fri": ["09:00-12:00", "13:00-18:00"], "sat": ["22:00-02:00"]}
    )
    cal = Calendar.from_settings("split", cfg, "Asia/Hong_Kong")
    mon_11 = datetime(2026, 11, 30, 11, 0, tzinfo=HK)
    assert cal.add(mon_11, timedelta(hours=2)) == datetime(2026, 11, 30, 14, 0, tzinfo=HK)
    assert not cal.is_open(datetime(2026, 11, 30, 12, 30, tzinfo=HK))
    sat_23 = datetime(2026, 11, 28, 23, 0, tzinfo=HK)
    assert cal.is_open(sat_23)
    assert cal.is_open(datetime(2026, 11, 29, 1, 0, tzinfo=HK))  # Sunday 01:00, still Saturday's
    assert cal.add(sat_23, timedelta(hours=3)) == datetime(2026, 11, 29, 2, 0, tzinfo=HK)


def test_round_the_clock_hours_do_not_loop_forever() -> None:
    cfg = CalendarSettings(hours={"daily": ["00:00-24:00"]})
    cal = Calendar.from_settings("allday", cfg, "UTC")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert cal.add(start, timedelta(days=100)) == start + timedelta(days=100)
    assert cal.between(start, start + timedelta(days=40)) == timedelta(days=40)


def test_dst_spring_forward_counts_real_hours() -> None:
    cal = Calendar.from_settings(
        "ny", CalendarSettings(hours={"daily": ["00:00-24:00"]}), "America/New_York"
    )
    # 8 March 2026: clocks jump 02:00 -> 03:00, so that local day has 23 real hours.
    sat = datetime(2026, 3, 7, 12, 0, tzinfo=NY)
    sun = datetime(2026, 3, 8, 12, 0, tzinfo=NY)
    assert cal.between(sat, sun) == timedelta(hours=23)
    assert cal.add(sat, timedelta(hours=23)) == sun


def test_dst_business_hours_stay_local() -> None:
    cal = Calendar.from_settings(
        "london", CalendarSettings(hours={"mon-fri": ["09:00-17:00"]}), "Europe/London"
    )
    # Clocks go back on Sunday 25 Oct 2026; Monday still opens at 09:00 local (08:00 UTC).
    fri = datetime(2026, 10, 23, 16, 0, tzinfo=LONDON)
    due = cal.add(fri, timedelta(hours=2))
    assert due == datetime(2026, 10, 26, 10, 0, tzinfo=LONDON)
    assert due.astimezone(UTC).hour == 10  # GMT after the change


def test_naive_or_negative_input_is_rejected() -> None:
    cal = office()
    with pytest.raises(CalendarError):
        cal.add(datetime(2026, 1, 1, 10, 0), timedelta(hours=1))
    with pytest.raises(CalendarError):
        cal.add(datetime(2026, 1, 1, 10, 0, tzinfo=HK), timedelta(hours=-1))


def test_calendar_without_hours_is_an_error() -> None:
    with pytest.raises(CalendarError):
        Calendar.from_settings("never", CalendarSettings(), "UTC")


def test_quiet_hours_defer_to_their_end() -> None:
    s = load_settings(environ={})
    late = datetime(2026, 11, 27, 23, 0, tzinfo=HK)
    assert end_of_quiet_hours(s, late) == datetime(2026, 11, 28, 9, 0, tzinfo=HK)
    early = datetime(2026, 11, 28, 7, 0, tzinfo=HK)
    assert end_of_quiet_hours(s, early) == datetime(2026, 11, 28, 9, 0, tzinfo=HK)
    noon = datetime(2026, 11, 28, 12, 0, tzinfo=HK)
    assert end_of_quiet_hours(s, noon) == noon
    off = load_settings(environ={"KEFU_SLA__QUIET_HOURS": ""})
    assert end_of_quiet_hours(off, late) == late


# --- properties ------------------------------------------------------------------------------

CALENDARS = [
    office(),
    office(holidays="CN", tz="Asia/Shanghai"),
    office(holidays="TW", tz="Asia/Taipei"),
    Calendar.from_settings(
        "ny-split",
        CalendarSettings(hours={"mon-fri": ["09:00-12:00", "13:00-17:30"], "sat": ["22:00-03:00"]}),
        "America/New_York",
    ),
    Calendar.from_settings(
        "london-dst-night",
        CalendarSettings(hours={"daily": ["00:30-02:30", "20:00-24:00"]}),
        "Europe/London",
    ),
]

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=20))
calendars = st.sampled_from(CALENDARS)


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, duration=durations)
def test_result_never_lands_in_closed_hours(
    cal: Calendar, start: datetime, duration: timedelta
) -> None:
    due = cal.add(start, duration)
    assert due > start
    # Inside an open interval, or exactly at its closing time.
    assert cal.is_open(due) or cal.is_open(due - timedelta(microseconds=1))


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, a=durations, b=durations)
def test_add_is_monotonic(cal: Calendar, start: datetime, a: timedelta, b: timedelta) -> None:
    small, large = sorted((a, b))
    assert cal.add(start, small) <= cal.add(start, large)


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, later=instants)
def test_later_start_never_gives_earlier_deadline(
    cal: Calendar, start: datetime, later: datetime
) -> None:
    a, b = sorted((start, later))
    assert cal.add(a, timedelta(hours=5)) <= cal.add(b, timedelta(hours=5))


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, duration=durations)
def test_add_then_measure_round_trips(cal: Calendar, start: datetime, duration: timedelta) -> None:
    assert cal.between(start, cal.add(start, duration)) == duration


@settings(max_examples=300, deadline=None)
@given(cal=calendars, a=instants, b=instants)
def test_measure_then_add_lands_at_or_before(cal: Calendar, a: datetime, b: datetime) -> None:
    a, b = sorted((a, b))
    measured = cal.between(a, b)
    assert measured >= timedelta(0)
    assert measured <= b - a
    back = cal.add(a, measured)
    assert back <= b
    assert cal.between(a, back) == measured
    assert cal.between(back, b) == timedelta(0)
