"""The categories a ticket of each kind may have: what the forms offer and what staff may set.

One list per kind, read by the forms (``bot.actions``) and by staff re-classifying a ticket
(``bot.staff``), so that a new category is added in one place."""

from __future__ import annotations

from bot.store.models import TicketKind

REPAIR_CATEGORIES = (
    "water_leak",
    "electrical",
    "lift",
    "doors_locks",
    "safety",
    "appliance",
    "public_area",
    "other",
)
COMPLAINT_CATEGORIES = (
    "noise",
    "sanitation",
    "security",
    "parking",
    "staff",
    "facilities",
    "fees",
    "product_delivery",
    "other",
)
CATEGORIES: dict[str, tuple[str, ...]] = {
    TicketKind.REPAIR: REPAIR_CATEGORIES,
    TicketKind.COMPLAINT: COMPLAINT_CATEGORIES,
}


def categories_for(kind: str) -> tuple[str, ...]:
    """The categories of ``kind`` (empty: that kind has no fixed list)."""
    return CATEGORIES.get(kind, ())
