"""Checking one imported row: each column cleaned, the spellings offices type mapped to codes.

One cleaner per kind of file (residents, orders, fees) turns a row into its natural key and
the values to store, or raises :class:`RowProblems` listing every bad column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from bot.config import Settings
from bot.records.models import OrderStatus, ResidentRole
from bot.records.units import read_unit
from bot.records.values import (
    clean_date,
    clean_datetime,
    clean_email,
    clean_money,
    clean_order_id,
    clean_period,
    clean_phone,
    text_of,
)

HEADERS: dict[str, tuple[str, ...]] = {
    "residents": ("unit", "name", "phone", "role", "move_in"),
    "orders": (
        "order_id",
        "phone",
        "email",
        "items",
        "status",
        "carrier",
        "tracking_number",
        "updated_at",
        "eta",
    ),
    "fees": ("unit", "period", "item", "amount", "due_date", "paid_amount", "paid_at"),
}

# Input spellings only (what offices type in spreadsheets); what users read is in dialogues/.
ROLE_ALIASES = {
    "owner": ResidentRole.OWNER,
    "業主": ResidentRole.OWNER,
    "业主": ResidentRole.OWNER,
    "tenant": ResidentRole.TENANT,
    "租客": ResidentRole.TENANT,
    "租戶": ResidentRole.TENANT,
    "租户": ResidentRole.TENANT,
}
FEE_ITEM_ALIASES = {
    "management_fee": (
        "management fee",
        "management",
        "mgmt fee",
        "管理費",
        "管理费",
        "物業費",
        "物业费",
        "物業管理費",
        "物业管理费",
    ),
    "parking": (
        "parking",
        "parking fee",
        "car park",
        "車位",
        "车位",
        "車位費",
        "车位费",
        "停車費",
        "停车费",
    ),
    "water": ("water", "water fee", "水費", "水费"),
    "electricity": ("electricity", "power", "電費", "电费"),
    "gas": ("gas", "煤氣費", "煤气费", "燃氣費", "燃气费"),
    "repair_fund": ("repair fund", "sinking fund", "維修基金", "维修基金"),
    "rent": ("rent", "租金"),
}
STATUS_ALIASES = {
    "new": OrderStatus.PENDING,
    "unpaid": OrderStatus.PENDING,
    "fulfilled": OrderStatus.SHIPPED,
    "dispatched": OrderStatus.SHIPPED,
    "canceled": OrderStatus.CANCELLED,
    "complete": OrderStatus.DELIVERED,
    "completed": OrderStatus.DELIVERED,
}


def fee_item_code(value: Any) -> str:
    """``管理費`` / "Management fee" -> ``management_fee``; unknown items keep their text."""
    raw = text_of(value)
    folded = raw.lower().replace("_", " ").strip()
    for code, aliases in FEE_ITEM_ALIASES.items():
        if folded == code.replace("_", " ") or folded in aliases:
            return code
    if not raw:
        raise ValueError("is empty")
    if len(raw) > 64:
        raise ValueError("is longer than 64 characters")
    return raw


def order_status_code(value: Any) -> str:
    """``In transit`` -> ``in_transit``; must be one Kefu can name in every language."""
    folded = text_of(value).lower().replace("-", "_").replace(" ", "_")
    if folded in STATUS_ALIASES:
        return STATUS_ALIASES[folded]
    try:
        return OrderStatus(folded).value
    except ValueError:
        allowed = ", ".join(s.value for s in OrderStatus)
        raise ValueError(f"{text_of(value)!r} is not one of: {allowed}") from None


class RowProblems(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(slots=True)
class RowContext:
    settings: Settings
    tz: tzinfo

    @property
    def region(self) -> str:
        return self.settings.default_region

    @property
    def language(self) -> str:
        return self.settings.default_language


def _field(
    problems: list[str],
    row: dict[str, Any],
    name: str,
    clean: Callable[[Any], Any],
    *,
    required: bool = True,
) -> Any:
    value = row.get(name)
    if text_of(value) == "":
        if required:
            problems.append(f"{name}: is empty")
        return None
    try:
        return clean(value)
    except ValueError as exc:
        problems.append(f"{name}: {exc}")
        return None


def _clean_resident(row: dict[str, Any], ctx: RowContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    problems: list[str] = []
    unit = _field(problems, row, "unit", lambda v: _unit(v, ctx))
    name = _field(problems, row, "name", _short(200))
    phone = _field(problems, row, "phone", lambda v: clean_phone(v, ctx.region))
    role = _field(problems, row, "role", _role)
    move_in = _field(problems, row, "move_in", clean_date, required=False)
    if problems:
        raise RowProblems(problems)
    values = {
        "unit_key": unit.key,
        "unit_display": unit.display,
        "unit_parts": unit.parts,
        "name": name,
        "phone": phone,
        "role": role,
        "move_in": move_in,
    }
    return (unit.key, phone), values


def _clean_order(row: dict[str, Any], ctx: RowContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    problems: list[str] = []
    order_id = _field(problems, row, "order_id", clean_order_id)
    phone = _field(problems, row, "phone", lambda v: clean_phone(v, ctx.region), required=False)
    email = _field(problems, row, "email", clean_email, required=False)
    if not text_of(row.get("phone")) and not text_of(row.get("email")):
        problems.append("phone, email: give at least one")
    status = _field(problems, row, "status", order_status_code)
    values = {
        "order_id": order_id,
        "phone": phone,
        "email": email,
        "items": _field(problems, row, "items", _short(4000), required=False) or "",
        "status": status,
        "carrier": _field(problems, row, "carrier", _short(100), required=False),
        "tracking_number": _field(problems, row, "tracking_number", _short(100), required=False),
        "updated_at": _field(
            problems, row, "updated_at", lambda v: clean_datetime(v, ctx.tz), required=False
        ),
        "eta": _field(problems, row, "eta", clean_date, required=False),
    }
    if problems:
        raise RowProblems(problems)
    return (order_id,), values


def _clean_fee(row: dict[str, Any], ctx: RowContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    problems: list[str] = []
    unit = _field(problems, row, "unit", lambda v: _unit(v, ctx))
    period = _field(problems, row, "period", clean_period)
    item = _field(problems, row, "item", fee_item_code)
    amount = _field(problems, row, "amount", clean_money)
    due_date = _field(problems, row, "due_date", clean_date)
    paid_amount = _field(problems, row, "paid_amount", clean_money, required=False)
    paid_at = _field(problems, row, "paid_at", lambda v: clean_datetime(v, ctx.tz), required=False)
    paid_amount = paid_amount if paid_amount is not None else Decimal("0.00")
    if amount is not None and paid_amount > amount:
        problems.append(f"paid_amount: {paid_amount} is more than amount {amount}")
    if paid_at is not None and paid_amount == 0 and text_of(row.get("paid_amount")) == "":
        problems.append("paid_amount: is empty although paid_at is given")
    if problems:
        raise RowProblems(problems)
    values = {
        "unit_key": unit.key,
        "unit_display": unit.display,
        "period": period,
        "item": item,
        "amount": amount,
        "due_date": due_date,
        "paid_amount": paid_amount,
        "paid_at": paid_at,
    }
    return (unit.key, period, item), values


def _unit(value: Any, ctx: RowContext) -> Any:
    unit = read_unit(text_of(value), ctx.language)
    if unit is None:
        raise ValueError(f"{text_of(value)!r} is not a unit (e.g. 3棟2單元1502室)")
    return unit


def _role(value: Any) -> str:
    folded = text_of(value).lower()
    if folded not in ROLE_ALIASES:
        raise ValueError(f"{text_of(value)!r} is not owner or tenant")
    return ROLE_ALIASES[folded].value


def _short(limit: int) -> Callable[[Any], str]:
    def clean(value: Any) -> str:
        raw = text_of(value)
        if len(raw) > limit:
            raise ValueError(f"is longer than {limit} characters")
        return raw

    return clean


CLEANERS = {"residents": _clean_resident, "orders": _clean_order, "fees": _clean_fee}
