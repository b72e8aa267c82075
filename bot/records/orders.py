"""Order look-ups with ownership checks: never tell one customer about another's order.

An order is disclosed when the chat's verified phone (or trusted e-mail) is the order's, or
after the user answers the last four digits of the order's phone (or its e-mail address).
Unknown order numbers take exactly the same path as known ones — a challenge that can never be
passed — so probing reveals nothing. Wrong answers are counted per contact and per order
number; too many lock further look-ups for ``orders.lockout`` and call the alert hook.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import OrdersSettings, Settings
from bot.records.models import OrderLookupAttempt
from bot.records.order_sources import (
    OrderInfo,
    OrderSource,
    OrderSourceUnavailable,
    build_order_source,
)
from bot.records.values import clean_order_id, try_phone
from bot.store.models import Contact

log = logging.getLogger(__name__)


# --- outcomes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Disclosed:
    """The order may be shown. ``via`` says why: the chat owns it, or passed the challenge."""

    order: OrderInfo
    via: Literal["owner", "challenge"]


@dataclass(frozen=True, slots=True)
class ChallengeNeeded:
    """Ask for the last four digits of the order's phone (same for unknown order numbers)."""

    order_ref: str
    attempts_left: int


@dataclass(frozen=True, slots=True)
class ChallengeFailed:
    """Wrong answer; ``attempts_left`` more before the lock."""

    order_ref: str
    attempts_left: int


@dataclass(frozen=True, slots=True)
class Locked:
    """No look-ups until ``until``: too many wrong answers, or too many look-ups."""

    until: datetime
    reason: Literal["failures", "rate_limit", "order"]


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The order source could not answer; say "we will get back to you" and open a ticket."""

    detail: str


@dataclass(frozen=True, slots=True)
class InvalidOrderRef:
    """The text is not shaped like an order number at all."""

    text: str


@dataclass(frozen=True, slots=True)
class NeedVerifiedContact:
    """Listing recent orders needs a verified phone (ask the user to share it)."""


@dataclass(frozen=True, slots=True)
class RecentOrders:
    orders: list[OrderInfo]


LookupResult = Disclosed | ChallengeNeeded | Locked | Unavailable | InvalidOrderRef
VerifyResult = Disclosed | ChallengeFailed | Locked | Unavailable | InvalidOrderRef
RecentResult = RecentOrders | NeedVerifiedContact | Unavailable


@dataclass(frozen=True, slots=True)
class OrderAlert:
    """Sent to the alert hook when a contact or an order number gets locked."""

    contact_id: int | None
    order_ref: str
    reason: Literal["failures", "order"]
    failures: int
    locked_until: datetime


# Called with the alert and the session holding the lock, so that what it records (e.g. a
# post for the agents' group) commits with the lock or not at all.
AlertHook = Callable[[OrderAlert, AsyncSession], Awaitable[None] | None]


async def log_alert(alert: OrderAlert, session: AsyncSession | None = None) -> None:
    """Alert hook of an office without agents' groups: a warning in the log."""
    log.warning(
        "order look-up locked (%s): contact=%s order=%s failures=%d until=%s",
        alert.reason,
        alert.contact_id,
        alert.order_ref,
        alert.failures,
        alert.locked_until.isoformat(),
    )


# --- the service -------------------------------------------------------------------------


class OrderService:
    """Look-ups, challenges and recent orders over any :class:`OrderSource`."""

    def __init__(
        self,
        source: OrderSource,
        config: OrdersSettings,
        *,
        region: str = "HK",
        alert: AlertHook | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self.region = region
        self.alert: AlertHook = alert or log_alert

    @classmethod
    def from_settings(cls, settings: Settings, *, alert: AlertHook | None = None) -> OrderService:
        """The service on the source ``orders.source`` configures."""
        return cls(
            build_order_source(settings),
            settings.orders,
            region=settings.default_region,
            alert=alert,
        )

    def identities(self, contact: Contact) -> tuple[list[str], list[str]]:
        """The chat's verified phones and trusted e-mails."""
        phones = [contact.phone] if contact.phone and contact.phone_verified else []
        emails = (
            [contact.email.lower()] if contact.email and self.config.trust_contact_email else []
        )
        return phones, emails

    def owns(self, contact: Contact, order: OrderInfo) -> bool:
        """Whether the chat's verified identity is the order's."""
        phones, emails = self.identities(contact)
        return bool(
            (order.phone and order.phone in phones) or (order.email and order.email in emails)
        )

    async def lookup(
        self, session: AsyncSession, contact: Contact, order_id: str, now: datetime
    ) -> LookupResult:
        """Answer "where is my order ``order_id``" for this chat."""
        try:
            ref = clean_order_id(order_id)
        except ValueError:
            return InvalidOrderRef(order_id)
        lock = await self._lock(session, contact.id, ref, now)
        if lock is not None:
            return lock
        try:
            order = await self.source.get_order(session, ref)
        except OrderSourceUnavailable as exc:
            log.warning("order source unavailable: %s", exc)
            return Unavailable(str(exc))
        if order is not None and self.owns(contact, order):
            return Disclosed(order, "owner")
        limited = await self._rate_limited(session, contact.id, now)
        if limited is not None:
            return limited
        session.add(
            OrderLookupAttempt(
                contact_id=contact.id, order_ref=ref, outcome="lookup", created_at=now
            )
        )
        await session.flush()
        return ChallengeNeeded(ref, await self._attempts_left(session, contact.id, now))

    async def verify_challenge(
        self,
        session: AsyncSession,
        contact: Contact,
        order_id: str,
        answer: str,
        now: datetime,
    ) -> VerifyResult:
        """Check the user's answer to the challenge for ``order_id``."""
        try:
            ref = clean_order_id(order_id)
        except ValueError:
            return InvalidOrderRef(order_id)
        lock = await self._lock(session, contact.id, ref, now)
        if lock is not None:
            return lock
        try:
            order = await self.source.get_order(session, ref)
        except OrderSourceUnavailable as exc:
            log.warning("order source unavailable: %s", exc)
            return Unavailable(str(exc))
        if order is not None and self._answer_matches(order, answer):
            session.add(
                OrderLookupAttempt(
                    contact_id=contact.id, order_ref=ref, outcome="pass", created_at=now
                )
            )
            await session.flush()
            return Disclosed(order, "challenge")
        session.add(
            OrderLookupAttempt(contact_id=contact.id, order_ref=ref, outcome="fail", created_at=now)
        )
        await session.flush()
        until = now + self.config.lockout
        contact_failures = await self._failures(session, now, contact_id=contact.id)
        ref_failures = await self._failures(session, now, order_ref=ref)
        if contact_failures >= self.config.max_challenge_failures:
            session.add(
                OrderLookupAttempt(
                    contact_id=contact.id,
                    order_ref=ref,
                    outcome="lock",
                    locked_until=until,
                    created_at=now,
                )
            )
            await session.flush()
            await self._alert(
                session, OrderAlert(contact.id, ref, "failures", contact_failures, until)
            )
            return Locked(until, "failures")
        if ref_failures >= self.config.max_order_failures:
            session.add(
                OrderLookupAttempt(
                    contact_id=None,
                    order_ref=ref,
                    outcome="lock",
                    locked_until=until,
                    created_at=now,
                )
            )
            await session.flush()
            await self._alert(session, OrderAlert(None, ref, "order", ref_failures, until))
            return Locked(until, "order")
        return ChallengeFailed(ref, self.config.max_challenge_failures - contact_failures)

    async def recent_orders(
        self, session: AsyncSession, contact: Contact, limit: int | None = None
    ) -> RecentResult:
        """The verified customer's most recent orders (for buttons when no number was given)."""
        phones, emails = self.identities(contact)
        if not phones and not emails:
            return NeedVerifiedContact()
        try:
            orders = await self.source.find_orders(
                session, phones=phones, emails=emails, limit=limit or self.config.recent_limit
            )
        except OrderSourceUnavailable as exc:
            log.warning("order source unavailable: %s", exc)
            return Unavailable(str(exc))
        return RecentOrders([o for o in orders if self.owns(contact, o)])

    # --- internals -----------------------------------------------------------------------

    def _answer_matches(self, order: OrderInfo, answer: str) -> bool:
        text = (answer or "").strip()
        if not text or len(text) > 254:
            return False
        if order.email and "@" in text and text.lower() == order.email:
            return True
        if not order.phone:
            return False
        digits = re.sub(r"\D", "", text)
        if len(digits) == 4:
            return order.phone.endswith(digits)
        return len(digits) >= 8 and try_phone(text, self.region) == order.phone

    async def _lock(
        self, session: AsyncSession, contact_id: int, ref: str, now: datetime
    ) -> Locked | None:
        rows = (
            await session.execute(
                select(OrderLookupAttempt.contact_id, func.max(OrderLookupAttempt.locked_until))
                .where(
                    OrderLookupAttempt.outcome == "lock",
                    OrderLookupAttempt.locked_until > now,
                    (OrderLookupAttempt.contact_id == contact_id)
                    | (
                        OrderLookupAttempt.contact_id.is_(None)
                        & (OrderLookupAttempt.order_ref == ref)
                    ),
                )
                .group_by(OrderLookupAttempt.contact_id)
            )
        ).all()
        for row_contact, until in rows:
            if row_contact is not None and until is not None:
                return Locked(until, "failures")
        for _, until in rows:
            if until is not None:
                return Locked(until, "order")
        return None

    async def _since(
        self, session: AsyncSession, now: datetime, window: timedelta, **where: object
    ) -> datetime:
        """Start of the counting window: ``now - window`` or the last lock's end, if later."""
        conditions = [OrderLookupAttempt.outcome == "lock"]
        if "contact_id" in where:
            conditions.append(OrderLookupAttempt.contact_id == where["contact_id"])
        else:
            conditions += [
                OrderLookupAttempt.contact_id.is_(None),
                OrderLookupAttempt.order_ref == where["order_ref"],
            ]
        last_lock = await session.scalar(
            select(func.max(OrderLookupAttempt.created_at)).where(*conditions)
        )
        start = now - window
        return max(start, last_lock) if last_lock is not None else start

    async def _failures(self, session: AsyncSession, now: datetime, **where: object) -> int:
        window = max(self.config.lookup_window, self.config.lockout)
        since = await self._since(session, now, window, **where)
        query = select(func.count()).where(
            OrderLookupAttempt.outcome == "fail", OrderLookupAttempt.created_at > since
        )
        if "contact_id" in where:
            query = query.where(OrderLookupAttempt.contact_id == where["contact_id"])
        else:
            query = query.where(OrderLookupAttempt.order_ref == where["order_ref"])
        return int(await session.scalar(query) or 0)

    async def _attempts_left(self, session: AsyncSession, contact_id: int, now: datetime) -> int:
        used = await self._failures(session, now, contact_id=contact_id)
        return max(self.config.max_challenge_failures - used, 0)

    async def _rate_limited(
        self, session: AsyncSession, contact_id: int, now: datetime
    ) -> Locked | None:
        since = now - self.config.lookup_window
        rows = (
            await session.scalars(
                select(OrderLookupAttempt.created_at)
                .where(
                    OrderLookupAttempt.contact_id == contact_id,
                    OrderLookupAttempt.outcome == "lookup",
                    OrderLookupAttempt.created_at > since,
                )
                .order_by(OrderLookupAttempt.created_at)
            )
        ).all()
        if len(rows) < self.config.max_lookups:
            return None
        return Locked(rows[0] + self.config.lookup_window, "rate_limit")

    async def _alert(self, session: AsyncSession, alert: OrderAlert) -> None:
        try:
            outcome = self.alert(alert, session)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:  # an alerting failure must not break the user's answer
            log.exception("order alert hook failed")
