"""What a correction says back: the field and its new value, never a bare "OK, corrected."
followed by the same question (which reads as if nothing had happened), and nothing at all when
the correction itself was refused (the refusal already asks again)."""

from __future__ import annotations

from typing import Any

from bot.actions.display import category_ref, quote, unit_text, visit_text

# Slots whose new value is worth saying back, and how it is shown.
_FIELDS = (
    "description",
    "repair_category",
    "unit",
    "visit_time",
    "phone",
    "complaint_details",
    "complaint_category",
)


def _shown(slot: str, value: Any, language: str) -> Any:
    if slot == "unit":
        return unit_text(value, language)
    if slot == "visit_time":
        return visit_text(value)
    if slot == "repair_category":
        return category_ref("repair", value)
    if slot == "complaint_category":
        return category_ref("complaint", value)
    if slot in ("description", "complaint_details"):
        return quote(value)
    return str(value)


def rejected(candidates: dict[str, Any], validated: dict[str, Any]) -> list[str]:
    """Slots a correction tried to change that the form's validator refused."""
    return [
        slot
        for slot, value in candidates.items()
        if value is not None
        and validated.get(slot) is None
        and slot != "requested_slot"
        and not slot.endswith("_confirmed")
    ]


def correction_reply(
    before: dict[str, Any], validated: dict[str, Any], language: str
) -> tuple[str, dict[str, Any]]:
    """The response and values that say what was corrected (``utter_correction_noted`` when
    none of the changes is one to show)."""
    items = [
        {
            "response": "utter_correction_item",
            "values": {"field": f"@utter_field_{slot}", "value": _shown(slot, value, language)},
        }
        for slot, value in validated.items()
        if slot in _FIELDS and value is not None and before.get(slot) not in (None, value)
    ]
    if not items:
        return "utter_correction_noted", {}
    return "utter_correction_made", {"changes": items}
