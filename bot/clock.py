"""An injectable clock: production code asks a :class:`Clock` for the time, tests move it."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Source of the current, timezone-aware time."""

    tz: tzinfo

    def now(self) -> datetime:
        """Return the current time in the clock's timezone."""
        ...


class SystemClock:
    """The real wall clock, in the configured timezone."""

    def __init__(self, tz: tzinfo | str = "UTC") -> None:
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz

    def now(self) -> datetime:
        return datetime.now(self.tz)


class FrozenClock:
    """A clock that only moves when told to; for tests and simulations."""

    def __init__(self, start: datetime, tz: tzinfo | str | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start time")
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else (tz or start.tzinfo)
        self._now = start.astimezone(self.tz)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move the clock forward by ``delta`` (or ``timedelta(**kwargs)``)."""
        self._now = self._now + (delta if delta is not None else timedelta(**kwargs))
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (must be timezone-aware)."""
        if when.tzinfo is None:
            raise ValueError("FrozenClock.set needs a timezone-aware time")
        self._now = when.astimezone(self.tz)
