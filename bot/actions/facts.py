"""The office's facts as response values: hours, holiday opening and hotlines from config.

FAQ answers in ``dialogues/faq.yml`` may hold ``{office_hours}``, ``{holiday_hours}``,
``{hotline}`` and ``{emergency_hotline}``; the words around the times are responses in
``dialogues/office.yml``, so every value reads in the user's language.
"""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.sla.office import OfficeHours, office_hours, spans_text


def office_values(settings: Settings) -> dict[str, Any]:
    """Values for the FAQ templates, from ``office.*`` and the office calendar."""
    hours = office_hours(settings)
    office = settings.office
    return {
        "office_hours": _weekly(hours),
        "holiday_hours": _holidays(hours),
        "hotline": office.hotline or "@utter_office_hotline_unset",
        "emergency_hotline": office.emergency_line or "@utter_office_hotline_unset",
    }


def _weekly(hours: OfficeHours) -> Any:
    if hours.always_open:
        return "@utter_office_always_open"
    lines = []
    for run in hours.days:
        if run.first == run.last:
            days: Any = f"@utter_weekday_{run.first}"
        else:
            days = {
                "response": "utter_office_day_range",
                "values": {
                    "first": f"@utter_weekday_{run.first}",
                    "last": f"@utter_weekday_{run.last}",
                },
            }
        if run.hours:
            lines.append(
                {
                    "response": "utter_office_hours_line",
                    "values": {"days": days, "hours": spans_text(run.hours)},
                }
            )
        else:
            lines.append({"response": "utter_office_closed_line", "values": {"days": days}})
    return lines


def _holidays(hours: OfficeHours) -> Any:
    if hours.always_open:
        return "@utter_office_always_open"
    if not hours.observes_holidays:
        return "@utter_office_holidays_as_usual"
    if not hours.holiday_hours:
        return "@utter_office_holidays_closed"
    return {
        "response": "utter_office_holidays_open",
        "values": {"hours": spans_text(hours.holiday_hours)},
    }
