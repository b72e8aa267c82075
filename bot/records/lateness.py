"""Whether an order is late: its promised delivery date has passed and it has not arrived.

Kept apart from the order sources so that the built-in table and a shop backend are judged the
same way, on the injected clock's date in the office's time zone.
"""

from __future__ import annotations

from datetime import date

from bot.records.order_sources import OrderInfo

# An order in one of these states is not waiting for a delivery any more.
FINISHED = frozenset({"delivered", "cancelled", "returned", "refunded"})


def days_late(order: OrderInfo, today: date) -> int:
    """Whole days past the order's ETA (0 when it is not late, or has no ETA)."""
    if order.eta is None or order.status in FINISHED:
        return 0
    return max((today - order.eta).days, 0)
