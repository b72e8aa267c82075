"""How slot values are shown to users: values, or ``@utter_*`` references into dialogues/."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from bot.nlu.entities import format_unit

VISIT_TOKENS = ("asap", "today", "tomorrow_am", "tomorrow_pm", "weekend", "anytime")
# A summary quotes at most this much of what the user wrote (the ticket keeps it all).
QUOTE_CHARS = 120


def quote(text: Any, limit: int = QUOTE_CHARS) -> str:
    """The user's words for a summary: whole when short, else cut at a word (or character, in
    Chinese) before ``limit`` with an ellipsis, so a long message does not bury the question."""
    text = " ".join(str(text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,，、。.;；:：") + "…"


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


def window_text(start: datetime, end: datetime) -> dict[str, Any]:
    """A visit window: ``11月27日（週五）14:00至18:00``; the end's date only when it differs."""
    shown_end = end - timedelta(microseconds=1) if end.time() == time(0) else end
    if shown_end.date() == start.date():
        end_text: dict[str, Any] = {"response": "utter_format_time", "values": datetime_values(end)}
    else:
        end_text = when_text(end)
    return {
        "response": "utter_format_window",
        "values": {"start": when_text(start), "end": end_text},
    }


def visit_text(value: Any) -> Any:
    """A visit-time slot: a button token, an ISO time, an ISO interval (a window) or the
    user's own words."""
    if isinstance(value, str) and value in VISIT_TOKENS:
        return f"@utter_visit_{value}"
    if isinstance(value, str):
        first, _, last = value.partition("/")
        try:
            start = datetime.fromisoformat(first)
            return window_text(start, datetime.fromisoformat(last)) if last else when_text(start)
        except ValueError:
            return value
    return str(value or "")
