"""Order look-up settings: the source of orders and ownership checks (used by bot.records)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from bot.config.base import Section, parse_duration


class OrderHTTPSettings(Section):
    """The shop backend's JSON API (``orders.source: http``).

    ``url_template`` gets ``{order_id}``; ``search_url_template`` (optional) gets ``{phone}`` and
    ``{email}`` for "my recent orders". Header values may name environment variables as
    ``${NAME}`` so secrets stay out of ``config.yml``. ``fields`` maps Kefu's field names to
    dotted paths in the backend's JSON; ``orders_path`` is where the list sits in a search reply.
    """

    url_template: str = ""
    search_url_template: str = ""
    headers: dict[str, str] = {}
    timeout: float = Field(default=5.0, gt=0, le=300)
    retries: int = Field(default=2, ge=0)
    backoff: float = Field(default=0.2, ge=0)
    fields: dict[str, str] = {}
    orders_path: str = "orders"


class OrdersSettings(Section):
    """Order look-ups: where orders come from and how ownership is checked."""

    source: Literal["table", "http"] = "table"
    max_challenge_failures: int = Field(default=3, ge=1)
    lockout: timedelta = timedelta(minutes=30)
    # Many contacts guessing one order's digits lock that order too.
    max_order_failures: int = Field(default=10, ge=1)
    max_lookups: int = Field(default=10, ge=1)
    lookup_window: timedelta = timedelta(hours=1)
    recent_limit: int = Field(default=5, ge=1)
    # Contacts have no e-mail verification yet; trust Contact.email only if a channel verifies it.
    trust_contact_email: bool = False
    http: OrderHTTPSettings = OrderHTTPSettings()

    @field_validator("lockout", "lookup_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)
