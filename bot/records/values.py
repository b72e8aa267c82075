"""Cleaning single values from import files and chats: phones, e-mails, dates, money, ids.

Each ``clean_*`` function returns the normalised value or raises :class:`ValueError` with a short
operator-facing reason (the importer prefixes the line number and column).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import phonenumbers

CENT = Decimal("0.01")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORDER_ID = re.compile(r"^[A-Z0-9][A-Z0-9\-_/]{1,62}[A-Z0-9]$")
_PERIOD_MONTH = re.compile(r"^(\d{4})[-/.]?(\d{1,2})$")
_PERIOD_OTHER = re.compile(r"^\d{4}(-(Q[1-4]|H[12]))?$")
_MONEY_JUNK = re.compile(r"(?i)hk\$|us\$|rmb|hkd|cny|usd|[$¥￥元,\s]")


def text_of(value: Any) -> str:
    """A cell as stripped text; spreadsheet integers lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def clean_phone(value: Any, region: str) -> str:
    """A phone number in E.164 (``+85291234567``); local numbers read in ``region``."""
    raw = text_of(value)
    if not raw:
        raise ValueError("is empty")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_phone(value: Any, region: str) -> str | None:
    """:func:`clean_phone`, or None when the value is not a valid number."""
    try:
        return clean_phone(value, region)
    except ValueError:
        return None


def mask_phone(phone: str | None) -> str:
    """For logs: ``+852****4567``."""
    if not phone:
        return "-"
    return phone[:4] + "*" * max(len(phone) - 8, 0) + phone[-4:] if len(phone) > 8 else "****"


def clean_email(value: Any) -> str:
    """A lower-case e-mail address."""
    raw = text_of(value).lower()
    if not _EMAIL.match(raw) or len(raw) > 254:
        raise ValueError(f"{raw!r} is not an e-mail address")
    return raw


def clean_order_id(value: Any) -> str:
    """Order numbers compare upper-case, without ``#`` or spaces (``#so 88412`` -> ``SO88412``)."""
    raw = re.sub(r"[\s#＃]", "", text_of(value)).upper()
    if not _ORDER_ID.match(raw):
        raise ValueError(f"{text_of(value)!r} is not an order number")
    return raw


def clean_date(value: Any) -> date:
    """``2026-11-30`` / ``2026/11/30`` or a spreadsheet date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = text_of(value)
    if not raw:
        raise ValueError("is empty")
    try:
        return date.fromisoformat(raw.replace("/", "-").split("T")[0].split(" ")[0])
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (use YYYY-MM-DD)") from None


def clean_datetime(value: Any, tz: tzinfo) -> datetime:
    """ISO 8601 (``2026-11-20 14:30``, ``...+08:00``); a time without zone is in ``tz``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        raw = text_of(value)
        if not raw:
            raise ValueError("is empty")
        try:
            parsed = datetime.fromisoformat(raw.replace("/", "-"))
        except ValueError:
            raise ValueError(f"{raw!r} is not a date and time (use YYYY-MM-DD HH:MM)") from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def clean_money(value: Any) -> Decimal:
    """A non-negative amount with at most two decimals (``HK$1,500.50`` -> ``1500.50``)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, int | float):
        raw = repr(value) if isinstance(value, float) else str(value)
    else:
        raw = _MONEY_JUNK.sub("", text_of(value))
        if "e" in raw.lower():  # 1e30 is a float's spelling, not an amount anyone bills
            raise ValueError(f"{text_of(value)!r} is not an amount")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{text_of(value)!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{text_of(value)!r} is not a non-negative amount")
    try:
        cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than Decimal's context holds
        raise ValueError(f"{text_of(value)!r} is too large an amount") from None
    if amount != cents:
        raise ValueError(f"{text_of(value)!r} has more than two decimals")
    return cents


def clean_period(value: Any) -> str:
    """A billing period: ``2026-11`` (also ``2026/11``, ``202611``), ``2026-Q4``, ``2026``."""
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-{value.month:02d}"
    raw = text_of(value).upper()
    month = _PERIOD_MONTH.match(raw)
    if month and 1 <= int(month.group(2)) <= 12:
        return f"{month.group(1)}-{int(month.group(2)):02d}"
    if _PERIOD_OTHER.match(raw):
        return raw
    raise ValueError(f"{text_of(value)!r} is not a period (use YYYY-MM)")
