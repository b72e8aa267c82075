"""The office's opening hours as Kefu states them, read from the same calendar the SLA counts.

``office.calendar`` names a calendar in ``calendars``; :func:`office_hours` groups its weekly
hours into runs of days with the same hours (Mon–Fri 08:30–18:00, Sat–Sun 09:00–17:00) and says
what happens on public holidays. The FAQ renders these in the user's language, so the answer
and the deadlines can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.sla.calendar import Calendar, build_calendars

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class DayRun:
    """Consecutive weekdays (Monday = 0) with the same hours; ``hours`` empty when closed."""

    first: int
    last: int
    hours: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """What the office's calendar says, ready to be put into words."""

    always_open: bool
    days: tuple[DayRun, ...]
    # Whether public holidays are special at all (a holiday table is configured) ...
    observes_holidays: bool
    # ... and if so, the hours on them (empty: closed).
    holiday_hours: tuple[Span, ...]


def office_calendar(settings: Settings) -> Calendar:
    """The calendar named by ``office.calendar`` (the one SLA policies can count on)."""
    return build_calendars(settings)[settings.office.calendar]


def office_hours(settings: Settings) -> OfficeHours:
    """The office's weekly and holiday hours, grouped for saying them."""
    calendar = office_calendar(settings)
    runs: list[DayRun] = []
    for day in range(7):
        hours = tuple(calendar.weekly.get(day, []))
        if runs and runs[-1].hours == hours:
            runs[-1] = DayRun(runs[-1].first, day, hours)
        else:
            runs.append(DayRun(day, day, hours))
    return OfficeHours(
        always_open=calendar.always_open,
        days=tuple(runs),
        observes_holidays=calendar.holidays is not None,
        holiday_hours=tuple(calendar.holiday_hours),
    )


def hhmm(minutes: int) -> str:
    """Minutes since midnight as ``08:30`` (``24:00`` stays ``24:00``)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def spans_text(hours: tuple[Span, ...]) -> str:
    """``08:30–12:00, 14:00–18:00``: language-neutral clock times."""
    return ", ".join(f"{hhmm(start)}–{hhmm(end)}" for start, end in hours)
