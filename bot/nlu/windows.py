"""Time windows: what "today", "this afternoon" or "the weekend" mean as a time to visit.

A date or a part of a day said without a clock time is a window, not an instant: 「今日」 is the
rest of today's visiting hours (never today 00:00, which has passed), 「下晝」 is 14:00-18:00,
"the weekend" is Saturday morning to Sunday evening. The datetime entity reports the window's
start as its value and its end as ``to``; a window that has begun starts now (rounded up to the
next quarter of an hour), and a window that has ended is left in the past for the form to refuse.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

# The hours of a whole day in which someone may call: a service desk's day, not midnight.
DAY_HOURS = (9, 18)
# A part of the day (normalised spelling, see bot.nlu.normalize) -> (first hour, end hour).
PART_HOURS: dict[str, tuple[int, int]] = {
    "凌晨": (0, 6),
    "清晨": (6, 9),
    "早上": (9, 12),
    "早晨": (9, 12),
    "朝早": (9, 12),
    "上午": (9, 12),
    "上昼": (9, 12),
    "中午": (12, 14),
    "晏昼": (12, 18),
    "下午": (14, 18),
    "下昼": (14, 18),
    "傍晚": (17, 19),
    "晚上": (19, 22),
    "夜晚": (19, 23),
    "夜里": (21, 24),
    "晚黑": (19, 23),
    "夜间": (21, 24),
    "morning": (9, 12),
    "in the morning": (9, 12),
    "afternoon": (14, 18),
    "in the afternoon": (14, 18),
    "evening": (19, 22),
    "in the evening": (19, 22),
    "night": (19, 23),
    "at night": (19, 23),
    "noon": (12, 14),
    "midday": (12, 14),
}
# When the rest of a day is shorter than this, the window reaches into the evening instead.
_MIN_LEFT = timedelta(hours=1)
_QUARTER = 15 * 60


def ceil_quarter(now: datetime) -> datetime:
    """``now`` rounded up to the next quarter of an hour (10:07 -> 10:15, 10:00 stays)."""
    base = now.replace(second=0, microsecond=0)
    if base < now:
        base += timedelta(minutes=1)
    seconds = (base.minute * 60) % _QUARTER
    return base + timedelta(seconds=(_QUARTER - seconds) % _QUARTER)


def _at(day: date, hour: int, now: datetime) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo) + timedelta(hours=hour)


def window(
    day: date | None, part: str | None, now: datetime, *, weekend: bool = False
) -> tuple[datetime, datetime]:
    """The window of ``day`` (today or the next such window when None) and ``part`` of it.

    A weekend window runs from Saturday's first visiting hour to Sunday's last.
    """
    first, last = PART_HOURS.get(part or "", DAY_HOURS)
    if day is None:
        day = now.date()
        if _at(day, last, now) <= now:
            day += timedelta(days=1)
    last_day = day + timedelta(days=6 - day.weekday()) if weekend and part is None else day
    if weekend and part is None and _at(last_day, last, now) <= now:
        # "the weekend" said on Sunday evening: the next one.
        day, last_day = last_day + timedelta(days=6), last_day + timedelta(days=7)
    start = _at(day, first, now)
    end = _at(last_day, last, now)
    if start < now < end:
        start = ceil_quarter(now)
    if part is None and not weekend and day == now.date() and end - max(start, now) < _MIN_LEFT:
        # 「今日」 at 17:30 or at 19:00: the rest of the evening, not a finished working day.
        start = max(start, ceil_quarter(now))
        end = max(end, min(start + timedelta(hours=3), _at(day, 24, now)))
    return start, end
