"""Order look-ups locked after wrong answers: the agents hear of it.

Three wrong answers to the ownership challenge (or many for one order number, from any chats)
lock look-ups for ``orders.lockout``. That is someone probing other people's orders, or a
customer who cannot get at their own: either way a person should look. The alert is a notice
in the agents' group (the group ``agents`` routes orders to, General topic), written as a
:class:`~bot.agents.models.GroupPost` in the same transaction as the lock, so it is sent by the
group relay of whichever ``kefu run`` process runs it, once, even if this process stops. With
no agents' group the alert is a warning in the log, the staff alert path of an office without
one.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.models import GroupPost, PostKind
from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.responses import Responses
from bot.records.orders import OrderAlert, log_alert
from bot.store.models import ChannelIdentity, Contact

log = logging.getLogger(__name__)


class OrderLockAlerts:
    """The :class:`~bot.records.orders.OrderService` alert hook that tells the agents."""

    def __init__(self, settings: Settings, clock: Clock, responses: Responses | None = None):
        self.settings = settings
        self.clock = clock
        self._responses = responses
        self.language = settings.agents.language or settings.default_language

    @property
    def responses(self) -> Responses:
        """The texts (``dialogues/agents.yml``), loaded on the first lockout if not given."""
        if self._responses is None:
            from bot.dialogue.domain import load_domain

            domain = load_domain(self.settings.dialogues_dir)
            self._responses = Responses(domain.responses, self.settings.default_language)
        return self._responses

    async def __call__(self, alert: OrderAlert, session: AsyncSession) -> None:
        """Queue the notice for the agents' group in the lock's transaction (else log it)."""
        group = self.settings.agents.route("order", None)
        if group is None:
            await log_alert(alert, session)
            return
        from bot.actions.display import when_text

        values: dict[str, Any] = {
            "order": alert.order_ref,
            "failures": alert.failures,
            "until": self.responses.fill(
                "{t}", self.language, {"t": when_text(alert.locked_until.astimezone(self.clock.tz))}
            ),
            "customer": await self._customer(session, alert.contact_id),
        }
        response = (
            "utter_agents_order_locked_chat"
            if alert.reason == "failures"
            else "utter_agents_order_locked_order"
        )
        session.add(
            GroupPost(
                group_chat_id=group.chat_id,
                topic_id=None,
                thread_id=None,
                kind=PostKind.NOTICE,
                text=self.responses.text(response, self.language, values),
                data={"order_lock": alert.reason, "contact_id": alert.contact_id},
                created_at=self.clock.now(),
                attempts=0,
            )
        )
        log.info("order look-up locked (%s): agents' group %s alerted", alert.reason, group.chat_id)

    async def _customer(self, session: AsyncSession, contact_id: int | None) -> str:
        """Who is locked, as staff can find them: name and channel id (a Telegram user id)."""
        if contact_id is None:
            return "—"
        contact = await session.get(Contact, contact_id)
        identity = (
            await session.execute(
                select(ChannelIdentity)
                .where(ChannelIdentity.contact_id == contact_id)
                .order_by(ChannelIdentity.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        parts = [contact.display_name if contact is not None and contact.display_name else ""]
        if identity is not None:
            parts.append(f"({identity.channel} {identity.external_id})")
        return " ".join(p for p in parts if p) or f"#{contact_id}"
