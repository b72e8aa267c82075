"""How slot values are shown to users: values, or ``@utter_*`` references into dialogues/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.nlu.entities import format_unit

VISIT_TOKENS = ("asap", "today", "tomorrow_am", "tomorrow_pm", "weekend", "anytime")


def unit_text(value: Any, language: str) -> str:
    """A unit slot (a dict of block/unit/floor/room, or text) for display."""
    if isinstance(value, dict):
        return format_unit(value, language)
    return str(value or "")


def category_ref(kind: str, value: Any) -> str:
    """``@utter_repair_category_water_leak``: rendered in the user's language."""
    return f"@utter_{kind}_category_{value or 'other'}"


def datetime_values(value: datetime) -> dict[str, Any]:
    """Values for the ``utter_format_datetime`` response."""
    return {
        "year": value.year,
        "month": value.month,
        "day": value.day,
        "hour": f"{value.hour:02d}",
        "minute": f"{value.minute:02d}",
        "weekday": f"@utter_weekday_{value.weekday()}",
    }


def when_text(value: datetime) -> dict[str, Any]:
    """A time, rendered by the ``utter_format_datetime`` response in the user's language."""
    return {"response": "utter_format_datetime", "values": datetime_values(value)}


def visit_text(value: Any) -> Any:
    """A visit-time slot: a button token, an ISO time or the user's own words."""
    if isinstance(value, str) and value in VISIT_TOKENS:
        return f"@utter_visit_{value}"
    if isinstance(value, str):
        try:
            return when_text(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value or "")
