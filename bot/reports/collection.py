"""The fee collection rate (收費率) in the service report (issue #15), read through a provider
the caller injects: the fees package sits above the reports, so the report names only the
shape of what it is given (:class:`CollectionRates`), and ``kefu report``, the scheduled report
and the web console pass :func:`bot.fees.collection.collection_rates`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class CollectionFigure(Protocol):
    """One period's (and building's) billed and collected amounts, as the fees package gives."""

    @property
    def period(self) -> str: ...
    @property
    def building(self) -> str: ...
    @property
    def units(self) -> int: ...
    @property
    def billed(self) -> Decimal: ...
    @property
    def collected(self) -> Decimal: ...


class CollectionRates(Protocol):
    """``collection_rates(session, periods=, due_before=, by_building=)`` of the fees."""

    async def __call__(
        self,
        session: AsyncSession,
        *,
        periods: list[str] | None = ...,
        due_before: date | None = ...,
        by_building: bool = ...,
    ) -> Sequence[CollectionFigure]: ...


@dataclass(frozen=True)
class CollectionRow:
    """A row of the report's collection table; building ``*`` is the whole estate."""

    period: str
    building: str
    units: int
    billed: Decimal
    collected: Decimal

    @property
    def rate(self) -> float | None:
        return float(self.collected / self.billed) if self.billed > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "building": self.building,
            "units": self.units,
            "billed": str(self.billed),
            "collected": str(self.collected),
            "rate": self.rate,
        }


def periods_of(start: datetime, end: datetime) -> list[str]:
    """The billing periods the report's days fall in: months (``2026-11``), quarters
    (``2026-Q4``) and years (``2026``), the forms ``kefu records import`` accepts."""
    first = start.date()
    last = (end - timedelta(microseconds=1)).date()
    out: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        for period in (f"{year}-{month:02d}", f"{year}-Q{(month - 1) // 3 + 1}", f"{year}"):
            if period not in out:
                out.append(period)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


async def collection_rows(
    session: AsyncSession, rates: CollectionRates, start: datetime, end: datetime, now: datetime
) -> list[CollectionRow]:
    """Per building, then the whole estate, for the periods of ``[start, end)``; only items
    due before the period's end (or today, if earlier) count, as in ``kefu fees collection``:
    a rate of a month not yet due means little."""
    periods = periods_of(start, end)
    due_before = min(end, now).astimezone(start.tzinfo).date()
    rows = [
        *await rates(session, periods=periods, due_before=due_before, by_building=True),
        *await rates(session, periods=periods, due_before=due_before, by_building=False),
    ]
    return sorted(
        (CollectionRow(r.period, r.building, r.units, r.billed, r.collected) for r in rows),
        key=lambda r: (r.period, r.building == "*", r.building),
    )
