"""Values for the order and fee responses in ``dialogues/payments.yml``.

No words here: statuses, fee items and "not yet" are ``@utter_*`` references rendered in the
user's language; amounts, periods and dates are language-neutral (``1,500.00``, ``2026-11-30``).
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from bot.records.fees import Balance, FeeLine
from bot.records.order_sources import OrderInfo

UNKNOWN = "@utter_order_value_unknown"


def money(amount: Decimal | float | int) -> str:
    """``1500`` -> ``1,500.00``."""
    return f"{Decimal(str(amount)):,.2f}"


def day(value: date | datetime | None, tz: tzinfo | None = None) -> str:
    """A date as ``2026-11-30`` (a datetime is first moved to ``tz``)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = (value.astimezone(tz) if tz else value).date()
    return value.isoformat()


def ref(prefix: str, code: str, responses: Container[str], fallback: str | None = None) -> str:
    """``@utter_<prefix><code>`` when that response exists, else the raw value."""
    name = f"utter_{prefix}{code}"
    return f"@{name}" if name in responses else (fallback if fallback is not None else code)


def order_values(order: OrderInfo, responses: Container[str]) -> dict[str, Any]:
    """Values for ``utter_order_status`` (never the order's phone or e-mail)."""
    return {
        "order_id": order.order_id,
        "status": ref("order_status_", order.status, responses),
        "carrier": order.carrier or UNKNOWN,
        "tracking_number": order.tracking_number or UNKNOWN,
        "eta": day(order.eta) if order.eta else UNKNOWN,
        "items": order.items,
    }


def order_button(order: OrderInfo, responses: Container[str]) -> dict[str, Any]:
    """A button for one of the customer's recent orders."""
    return {
        "title": {
            "response": "utter_order_button",
            "values": {
                "order_id": order.order_id,
                "status": ref("order_status_", order.status, responses),
            },
        },
        "payload": '/order{"order_id":"' + order.order_id + '"}',
    }


def fee_line(line: FeeLine, currency: str, responses: Container[str]) -> dict[str, Any]:
    """One line of ``{items}`` in ``utter_fee_balance``."""
    if line.late_fee > 0:
        response = "utter_fee_line_late_fee"
    elif line.overdue:
        response = "utter_fee_line_overdue"
    else:
        response = "utter_fee_line"
    return {
        "response": response,
        "values": {
            "period": line.period,
            "item": ref("fee_item_", line.item, responses),
            "currency": currency,
            "outstanding": money(line.outstanding),
            "due_date": day(line.due_date),
            "days_overdue": line.days_overdue,
            "late_fee": money(line.late_fee),
        },
    }


def balance_values(balance: Balance, unit: str, responses: Container[str]) -> dict[str, Any]:
    """Values for ``utter_fee_balance`` / ``utter_no_arrears`` / the overdue note."""
    return {
        "unit": unit,
        "currency": balance.currency,
        "total": money(balance.total),
        "overdue_total": money(balance.overdue_total),
        "items": [fee_line(line, balance.currency, responses) for line in balance.lines],
    }
