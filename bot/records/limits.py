"""Whether a cleaned import value fits its column, judged the same way on every database.

SQLite stores whatever it is given (a NUL inside a name, an amount of 10^30 in a NUMERIC(12, 2)
column) while PostgreSQL refuses it with a driver error at flush time. Checking each value
against the column's own declared limits before anything is written gives the operator one
line-numbered reason on both databases, and keeps SQLite from holding values PostgreSQL never
would.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String


def column_problems(model: Any, values: dict[str, Any]) -> list[str]:
    """``"column: reason"`` for each value in ``values`` that does not fit ``model``'s column."""
    problems: list[str] = []
    columns = model.__table__.columns
    for name, value in values.items():
        if name not in columns or value is None:
            continue
        problem = _problem(columns[name].type, value)
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


def _problem(column_type: Any, value: Any) -> str | None:
    if _has_nul(value):
        return "contains a NUL character (\\x00)"
    length = getattr(column_type, "length", None) if isinstance(column_type, String) else None
    if isinstance(value, str) and length and len(value) > length:
        return f"is longer than {length} characters"
    if isinstance(value, Decimal) and isinstance(column_type, Numeric):
        precision, scale = column_type.precision, column_type.scale or 0
        if precision is not None:
            largest = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
            if not value.is_finite() or abs(value) > largest:
                return f"{value} is more than the largest amount allowed ({largest})"
    return None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False
