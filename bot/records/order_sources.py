"""Where orders come from: the built-in ``orders`` table or a shop backend's JSON API.

Both implement :class:`OrderSource`. A source answers ``None`` for an order it does not know and
raises :class:`OrderSourceUnavailable` when it cannot answer at all (timeout, HTTP error, bad
JSON); the order service turns that into a polite "we will get back to you".
"""

from __future__ import annotations

import asyncio
import logging
import os
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import OrderHTTPSettings, Settings
from bot.records.importing import order_status_code
from bot.records.models import Order
from bot.records.values import clean_datetime, clean_email, clean_order_id, try_phone

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

ORDER_FIELDS = (
    "order_id",
    "phone",
    "email",
    "items",
    "status",
    "carrier",
    "tracking_number",
    "updated_at",
    "eta",
)


@dataclass(frozen=True, slots=True)
class OrderInfo:
    """An order as any source reports it. ``phone``/``email`` are for ownership checks only."""

    order_id: str
    status: str
    phone: str | None = None
    email: str | None = None
    items: str = ""
    carrier: str | None = None
    tracking_number: str | None = None
    updated_at: datetime | None = None
    eta: date | None = None

    def public(self) -> dict[str, Any]:
        """What may be shown to the verified customer (never the phone or e-mail)."""
        return {
            "order_id": self.order_id,
            "status": self.status,
            "items": self.items,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "eta": self.eta.isoformat() if self.eta else None,
        }


class OrderSourceUnavailable(Exception):
    """The source could not answer; the message is for logs, never for users."""


class OrderSource(Protocol):
    """Anything Kefu can ask about orders."""

    async def get_order(self, session: AsyncSession, order_id: str) -> OrderInfo | None:
        """The order with this (normalised) id, or None if unknown."""
        ...

    async def find_orders(
        self, session: AsyncSession, *, phones: Sequence[str], emails: Sequence[str], limit: int
    ) -> list[OrderInfo]:
        """The most recent orders placed with any of these phones/e-mails."""
        ...


def _from_row(row: Order) -> OrderInfo:
    return OrderInfo(
        order_id=row.order_id,
        status=row.status,
        phone=row.phone,
        email=row.email,
        items=row.items,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        updated_at=row.updated_at,
        eta=row.eta,
    )


class TableOrderSource:
    """Orders from the built-in table (``kefu orders import``)."""

    async def get_order(self, session: AsyncSession, order_id: str) -> OrderInfo | None:
        row = await session.scalar(select(Order).where(Order.order_id == order_id))
        return _from_row(row) if row else None

    async def find_orders(
        self, session: AsyncSession, *, phones: Sequence[str], emails: Sequence[str], limit: int
    ) -> list[OrderInfo]:
        conditions = []
        if phones:
            conditions.append(Order.phone.in_(list(phones)))
        if emails:
            conditions.append(Order.email.in_([e.lower() for e in emails]))
        if not conditions:
            return []
        rows = (
            await session.scalars(
                select(Order)
                .where(or_(*conditions))
                .order_by(Order.updated_at.desc().nulls_last(), Order.id.desc())
                .limit(limit)
            )
        ).all()
        return [_from_row(r) for r in rows]


class HttpOrderSource:
    """A shop backend's JSON API, configured in ``orders.http``.

    Timeouts, connection errors and 5xx replies are retried ``retries`` times with a growing
    pause; a 404 means "no such order"; anything else unusable raises
    :class:`OrderSourceUnavailable`.
    """

    def __init__(
        self,
        config: OrderHTTPSettings,
        *,
        tz: tzinfo,
        region: str = "HK",
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not config.url_template:
            raise ValueError("orders.http.url_template is empty")
        self.config = config
        self.tz = tz
        self.region = region
        self._environ = dict(os.environ if environ is None else environ)
        self._transport = transport

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        for name, template in self.config.headers.items():
            try:
                headers[name] = string.Template(template).substitute(self._environ)
            except (KeyError, ValueError) as exc:
                raise OrderSourceUnavailable(
                    f"header {name} needs environment variable {exc}"
                ) from None
        return headers

    async def _get_json(self, url: str) -> Any | None:
        """GET ``url`` with retries; None on 404."""
        import httpx  # here: ~0.1 s CPU that every process building the app paid at import

        attempts = self.config.retries + 1
        last: str = "no attempt"
        async with httpx.AsyncClient(
            timeout=self.config.timeout, transport=self._transport, follow_redirects=True
        ) as client:
            for attempt in range(attempts):
                if attempt:
                    await asyncio.sleep(self.config.backoff * attempt)
                try:
                    reply = await client.get(url, headers=self._headers())
                except httpx.TimeoutException:
                    last = "timeout"
                    continue
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}"
                    continue
                if reply.status_code == 404:
                    return None
                if reply.status_code >= 500 or reply.status_code == 429:
                    last = f"HTTP {reply.status_code}"
                    continue
                if reply.status_code >= 400:
                    raise OrderSourceUnavailable(f"HTTP {reply.status_code} from the shop backend")
                try:
                    return reply.json()
                except ValueError:
                    raise OrderSourceUnavailable("the shop backend sent invalid JSON") from None
        raise OrderSourceUnavailable(f"the shop backend failed {attempts} time(s): {last}")

    def _path(self, name: str) -> str:
        return self.config.fields.get(name, name)

    def _parse(self, data: Any) -> OrderInfo:
        if not isinstance(data, dict):
            raise OrderSourceUnavailable("the shop backend's order is not a JSON object")
        raw = {name: _dig(data, self._path(name)) for name in ORDER_FIELDS}
        try:
            order_id = clean_order_id(raw["order_id"])
        except ValueError:
            raise OrderSourceUnavailable("the shop backend's order has no usable id") from None
        status_text = str(raw["status"] or "").strip()
        if not status_text:
            raise OrderSourceUnavailable("the shop backend's order has no status")
        try:
            status = order_status_code(status_text)
        except ValueError:
            status = status_text.lower()
        items = raw["items"]
        if isinstance(items, list):
            items = ", ".join(_item_text(i) for i in items)
        email = None
        if raw["email"]:
            try:
                email = clean_email(raw["email"])
            except ValueError:
                email = None
        return OrderInfo(
            order_id=order_id,
            status=status,
            phone=try_phone(raw["phone"], self.region) if raw["phone"] else None,
            email=email,
            items=str(items or ""),
            carrier=_opt_text(raw["carrier"]),
            tracking_number=_opt_text(raw["tracking_number"]),
            updated_at=_try(lambda: clean_datetime(raw["updated_at"], self.tz))
            if raw["updated_at"]
            else None,
            eta=_try(lambda: clean_datetime(raw["eta"], self.tz).date()) if raw["eta"] else None,
        )

    async def get_order(self, session: AsyncSession, order_id: str) -> OrderInfo | None:
        url = self.config.url_template.format(order_id=quote(order_id, safe=""))
        data = await self._get_json(url)
        if data is None:
            return None
        order = self._parse(data)
        # A backend that answers with a different order than asked is not trusted.
        return order if order.order_id == order_id else None

    async def find_orders(
        self, session: AsyncSession, *, phones: Sequence[str], emails: Sequence[str], limit: int
    ) -> list[OrderInfo]:
        if not self.config.search_url_template or not (phones or emails):
            return []
        found: dict[str, OrderInfo] = {}
        for phone, email in [(p, "") for p in phones] + [("", e) for e in emails]:
            url = self.config.search_url_template.format(
                phone=quote(phone, safe=""), email=quote(email, safe="")
            )
            data = await self._get_json(url)
            if data is None:
                continue
            listing = _dig(data, self.config.orders_path) if isinstance(data, dict) else data
            if not isinstance(listing, list):
                raise OrderSourceUnavailable("the shop backend's order list is not a list")
            for entry in listing:
                order = self._parse(entry)
                # Only orders that really belong to the asker, whatever the backend returned.
                if (phone and order.phone == phone) or (email and order.email == email.lower()):
                    found.setdefault(order.order_id, order)
        ordered = sorted(
            found.values(),
            key=lambda o: o.updated_at.timestamp() if o.updated_at else 0.0,
            reverse=True,
        )
        return ordered[:limit]


def _dig(data: Any, path: str) -> Any:
    node = data
    for part in path.split(".") if path else []:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _opt_text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _item_text(item: Any) -> str:
    if isinstance(item, dict):
        name = item.get("name") or item.get("title") or item.get("sku") or ""
        qty = item.get("quantity") or item.get("qty")
        return f"{name} x{qty}" if qty else str(name)
    return str(item)


def _try(fn: Any) -> Any:
    try:
        return fn()
    except ValueError:
        return None


def build_order_source(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> OrderSource:
    """The source ``orders.source`` names."""
    if settings.orders.source == "http":
        return HttpOrderSource(
            settings.orders.http,
            tz=settings.tz,
            region=settings.default_region,
            transport=transport,
        )
    return TableOrderSource()
