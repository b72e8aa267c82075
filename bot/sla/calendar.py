"""Business calendars: weekly opening hours, public holidays and exact business-time arithmetic.

All arithmetic runs on UTC instants, so durations are real elapsed time even on days when a
DST zone shifts its clocks; opening hours are local wall-clock times in the calendar's zone.
Open intervals are half-open ``[start, end)``: a deadline that uses up the last minute of the
day lands exactly on closing time (``18:00``), which counts as inside business hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_pkg

from bot.config import CalendarSettings, Settings

ALWAYS_OPEN = "24x7"
_DAY = timedelta(days=1)
# Scanning this many days without finding an open minute means the calendar is never open.
_MAX_EMPTY_DAYS = 3700
_MAX_MERGED = timedelta(days=31)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[datetime, datetime]


class CalendarError(ValueError):
    """The calendar cannot answer (never open, negative duration, naive time...)."""


def _aware_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise CalendarError("business-time arithmetic needs timezone-aware datetimes")
    return dt.astimezone(UTC)


@dataclass(eq=False)
class Calendar:
    """A named business calendar.

    ``weekly`` maps weekday (Monday = 0) to ``(start, end)`` minutes since local midnight; an
    end not after the start runs into the next day. ``holidays`` is a ``holidays`` country code
    (``HK``, ``CN``, ``TW``) or None; its adjusted working days (調休) and ``extra_open`` dates
    use the hours of weekday ``workday_hours``.
    """

    name: str
    tz: tzinfo
    weekly: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    holidays: str | None = None
    # Hours on a public holiday ([] = closed all day), e.g. the weekend's hours.
    holiday_hours: list[tuple[int, int]] = field(default_factory=list)
    extra_closed: frozenset[date] = frozenset()
    extra_open: frozenset[date] = frozenset()
    workday_hours: int = 0
    always_open: bool = False
    _holiday_table: Any = field(default=None, init=False, repr=False)
    _day_cache: dict[date, tuple[Interval, ...]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.holidays:
            self._holiday_table = holidays_pkg.country_holidays(self.holidays)
        if not self.always_open and not any(self.weekly.values()) and not self.extra_open:
            raise CalendarError(f"calendar {self.name!r} has no opening hours")

    # --- construction -----------------------------------------------------------------

    @classmethod
    def twenty_four_seven(cls, tz: tzinfo | str = "UTC") -> Calendar:
        """The built-in ``24x7`` calendar: always open."""
        return cls(name=ALWAYS_OPEN, tz=_zone(tz), always_open=True)

    @classmethod
    def from_settings(cls, name: str, cfg: CalendarSettings, default_tz: tzinfo | str) -> Calendar:
        """Build a calendar from its ``calendars.<name>`` section."""
        return cls(
            name=name,
            tz=_zone(cfg.timezone or default_tz),
            weekly=cfg.weekly(),
            holidays=None if cfg.holidays == "none" else cfg.holidays,
            holiday_hours=cfg.holiday(),
            extra_closed=frozenset(cfg.extra_closed),
            extra_open=frozenset(cfg.extra_open),
            workday_hours=_WEEKDAYS.index(cfg.workday_hours),
            always_open=cfg.always_open,
        )

    # --- which hours apply on a day -----------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        """The public holiday on ``day`` (None if none or no holiday table)."""
        if self._holiday_table is None:
            return None
        name = self._holiday_table.get(day)
        return str(name) if name else None

    def is_adjusted_workday(self, day: date) -> bool:
        """A weekend day that is a working day by decree (CN/TW 調休)."""
        if self._holiday_table is None:
            return False
        _ = day in self._holiday_table  # loads that year, which fills weekend_workdays
        return day in getattr(self._holiday_table, "weekend_workdays", ())

    def hours_on(self, day: date) -> list[tuple[int, int]]:
        """Opening hours on a local date, as (start, end) minutes; [] when closed."""
        if self.always_open:
            return [(0, 24 * 60)]
        if day in self.extra_closed:
            return []
        if day in self.extra_open:
            own = self.weekly.get(day.weekday(), [])
            if own and self.holiday_name(day) is None:
                return own
            return self.weekly.get(self.workday_hours, [])
        if self.is_adjusted_workday(day):
            return self.weekly.get(self.workday_hours, [])
        if self.holiday_name(day) is not None:
            return list(self.holiday_hours)
        return self.weekly.get(day.weekday(), [])

    def _day_intervals(self, day: date) -> tuple[Interval, ...]:
        """UTC intervals that start on local date ``day``, sorted."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        out: list[Interval] = []
        midnight = datetime.combine(day, time())
        for start_min, end_min in self.hours_on(day):
            if end_min <= start_min:
                end_min += 24 * 60
            start = self._local_to_utc(midnight + timedelta(minutes=start_min))
            end = self._local_to_utc(midnight + timedelta(minutes=end_min))
            if end > start:  # a DST gap can swallow a short interval entirely
                out.append((start, end))
        result = tuple(sorted(out))
        if len(self._day_cache) > 4096:
            self._day_cache.clear()
        self._day_cache[day] = result
        return result

    def _local_to_utc(self, naive_local: datetime) -> datetime:
        return naive_local.replace(tzinfo=self.tz).astimezone(UTC)

    def open_intervals(self, frm: datetime) -> Iterator[Interval]:
        """Merged open intervals (UTC) in time order, from the one containing or following
        ``frm``; the first one may start before ``frm``."""
        frm = _aware_utc(frm)
        if self.always_open:
            yield (frm, datetime.max.replace(tzinfo=UTC))
            return
        day = frm.astimezone(self.tz).date() - _DAY  # yesterday's overnight shift may reach us
        pending: Interval | None = None
        empty_days = 0
        while True:
            intervals = self._day_intervals(day)
            empty_days = 0 if intervals else empty_days + 1
            if empty_days > _MAX_EMPTY_DAYS:
                raise CalendarError(f"calendar {self.name!r} is never open after {frm:%Y-%m-%d}")
            for start, end in intervals:
                if pending is not None and start <= pending[1]:
                    pending = (pending[0], max(pending[1], end))
                    continue
                if pending is not None and pending[1] > frm:
                    yield pending
                pending = (start, end)
            # Nothing starting on a later day can merge into `pending` if it ended before
            # tomorrow's local midnight, so it is safe to emit now. A calendar open round the
            # clock would merge forever; emitting adjacent pieces is harmless for arithmetic.
            if pending is not None:
                next_midnight = self._local_to_utc(datetime.combine(day + _DAY, time()))
                if pending[1] < next_midnight or pending[1] - pending[0] > _MAX_MERGED:
                    if pending[1] > frm:
                        yield pending
                    pending = None
            day += _DAY

    # --- public arithmetic --------------------------------------------------------------

    def is_open(self, dt: datetime) -> bool:
        """Whether ``dt`` falls inside opening hours (closing time itself is closed)."""
        start, _ = next(self.open_intervals(dt))
        return start <= _aware_utc(dt)

    def next_open(self, dt: datetime) -> datetime:
        """``dt`` itself if open, else the next opening time (in the calendar's zone)."""
        start, _ = next(self.open_intervals(dt))
        return max(start, _aware_utc(dt)).astimezone(self.tz)

    def open_until(self, dt: datetime) -> datetime | None:
        """The end of the open stretch containing ``dt``; None when ``dt`` is closed."""
        start, end = next(self.open_intervals(dt))
        if start > _aware_utc(dt):
            return None
        return None if self.always_open else end.astimezone(self.tz)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of open time has elapsed after ``start``.

        For a positive duration the result is inside opening hours or exactly at a closing time.
        """
        if duration < timedelta(0):
            raise CalendarError("cannot add a negative business duration")
        begin = _aware_utc(start)
        if duration == timedelta(0):
            return begin.astimezone(self.tz)
        if self.always_open:
            return (begin + duration).astimezone(self.tz)
        remaining = duration
        for s, e in self.open_intervals(begin):
            s = max(s, begin)
            available = e - s
            if remaining <= available:
                return (s + remaining).astimezone(self.tz)
            remaining -= available
        raise AssertionError("unreachable: open_intervals is infinite or raises")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Open time from ``a`` to ``b`` (negative if ``b`` is before ``a``)."""
        ua, ub = _aware_utc(a), _aware_utc(b)
        if ub < ua:
            return -self.between(b, a)
        if self.always_open:
            return ub - ua
        total = timedelta(0)
        for s, e in self.open_intervals(ua):
            if s >= ub:
                break
            total += min(e, ub) - max(s, ua)
        return total

    def describe_hours(self) -> str:
        """A one-line summary of the weekly hours, for explanations."""
        if self.always_open:
            return "24x7"
        parts = []
        for day in range(7):
            spans = self.weekly.get(day, [])
            text = ",".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in spans) or "closed"
            parts.append(f"{_WEEKDAYS[day]} {text}")
        on_holidays = ",".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in self.holiday_hours)
        extras = f"; holidays {self.holidays} {on_holidays or 'closed'}" if self.holidays else ""
        return "; ".join(parts) + extras


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


class Calendars:
    """The configured calendars by name, plus the built-in ``24x7``."""

    def __init__(self, calendars: Iterable[Calendar], default_tz: tzinfo | str) -> None:
        self._by_name = {c.name: c for c in calendars}
        self._by_name.setdefault(ALWAYS_OPEN, Calendar.twenty_four_seven(default_tz))
        self.tz = _zone(default_tz)

    def __getitem__(self, name: str) -> Calendar:
        try:
            return self._by_name[name]
        except KeyError:
            raise CalendarError(f"unknown calendar {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        """Calendar names, sorted."""
        return sorted(self._by_name)


def build_calendars(settings: Settings) -> Calendars:
    """The calendars configured in ``settings`` (cached per settings object)."""
    return _cached_calendars(id(settings), settings)


_CACHE: dict[int, tuple[Settings, Calendars]] = {}


def _cached_calendars(key: int, settings: Settings) -> Calendars:
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is settings:
        return hit[1]
    calendars = Calendars(
        (Calendar.from_settings(n, c, settings.timezone) for n, c in settings.calendars.items()),
        settings.timezone,
    )
    if len(_CACHE) > 32:
        _CACHE.clear()
    _CACHE[key] = (settings, calendars)
    return calendars


def quiet_hours_calendar(settings: Settings) -> Calendar | None:
    """Quiet hours (``sla.quiet_hours``) as a calendar that is "open" while quiet; None if off."""
    spec = settings.sla.quiet_hours
    if not spec:
        return None
    key = (spec, settings.timezone)
    cached = _QUIET.get(key)
    if cached is None:
        cfg = CalendarSettings(hours={"daily": [spec]})
        cached = _QUIET[key] = Calendar.from_settings("quiet_hours", cfg, settings.timezone)
    return cached


_QUIET: dict[tuple[str, str], Calendar] = {}


def end_of_quiet_hours(settings: Settings, when: datetime) -> datetime:
    """``when`` itself, or the end of the quiet hours it falls in."""
    quiet = quiet_hours_calendar(settings)
    if quiet is None:
        return when
    end = quiet.open_until(when)
    return when if end is None else end
