"""Orders: "where is my order", the ownership challenge, and order requests (cancel, return...).

Thin glue over :class:`bot.records.orders.OrderService`; every sentence is in
``dialogues/payments.yml``.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.ext.asyncio import AsyncSession

from bot.actions import runtime
from bot.actions.display import when_text
from bot.actions.forms import latest_entity, slot_text, tracker_now
from bot.actions.tickets import open_ticket_from_form, submitted_message
from bot.records.orders import (
    ChallengeFailed,
    ChallengeNeeded,
    Disclosed,
    InvalidOrderRef,
    Locked,
    NeedVerifiedContact,
    OrderService,
    RecentOrders,
    Unavailable,
    VerifyResult,
    log_alert,
)
from bot.records.present import order_button, order_values
from bot.store.models import Contact

CHALLENGE_SLOT = "order_challenge_answer"
# The form's slot holds the outcome once the challenge is over, so the form ends.
CHALLENGE_DONE = "done"
ORDER_TOPICS = ("cancel", "change_address", "return", "exchange", "refund")

_service: OrderService | None = None


def order_service() -> OrderService:
    """The process's order service (built from settings on first use); lockouts alert the
    agents' group (or the log without one)."""
    global _service
    services = runtime.services()
    settings = services.settings
    if _service is None or _service.config is not settings.orders:
        _service = OrderService.from_settings(settings, alert=services.order_alert or log_alert)
    return _service


def set_order_service(service: OrderService | None) -> None:
    """Install a specific service (e.g. with an agent-alert hook); None resets to settings."""
    global _service
    _service = service


def responses_of(domain: DomainDict) -> dict[str, Any]:
    return dict(domain.get("responses") or {})


async def load_contact(session: AsyncSession, tracker: Tracker) -> Contact | None:
    contact_id = (tracker.latest_message.get("metadata") or {}).get("contact_id")
    return await session.get(Contact, contact_id) if contact_id else None


def utter_locked(dispatcher: CollectingDispatcher, result: Locked) -> None:
    tz = runtime.services().clock.tz
    response = "utter_order_rate_limited" if result.reason == "rate_limit" else "utter_order_locked"
    dispatcher.utter_message(response=response, until=when_text(result.until.astimezone(tz)))


async def report_unavailable(
    dispatcher: CollectingDispatcher, tracker: Tracker, order_ref: str | None
) -> None:
    """The order source is down: open a ticket so someone gets back to the customer."""
    contact_phone = None
    async with runtime.transaction() as session:
        contact = await load_contact(session, tracker)
        if contact is not None and contact.phone_verified:
            contact_phone = contact.phone
    ticket = await open_ticket_from_form(
        tracker,
        kind="order",
        category="status_unavailable",
        description=slot_text(tracker.latest_message.get("text")) or (order_ref or ""),
        phone=contact_phone,
        details={"order_id": order_ref} if order_ref else {},
    )
    language = tracker.get_slot("language") or "zh-Hant"
    dispatcher.utter_message(
        response="utter_order_source_unavailable", **submitted_message(ticket, language)
    )


def order_topic(tracker: Tracker) -> str | None:
    """A request about an order (cancel, return...) from the ``order_topic`` keyword lookups."""
    found = {
        str(e.get("value"))
        for e in tracker.latest_message.get("entities") or []
        if e.get("entity") == "order_topic"
    }
    return next((t for t in ORDER_TOPICS if t in found), None)


class ActionOrderStatus(Action):
    """Intent ``order``: status of a numbered order, the customer's recent orders, or a request
    (cancel, change address, return, exchange, refund) that becomes an order ticket."""

    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id = latest_entity(tracker, "order_id")
        topic = order_topic(tracker)
        if topic:
            return await self._request(dispatcher, tracker, topic, order_id)
        if not order_id:
            return await self._recent(dispatcher, tracker, domain)
        service = order_service()
        now = tracker_now(tracker)
        async with runtime.transaction() as session:
            contact = await load_contact(session, tracker)
            if contact is None:
                dispatcher.utter_message(response="utter_order_invalid_id")
                return []
            result = await service.lookup(session, contact, str(order_id), now)
        if isinstance(result, Disclosed):
            dispatcher.utter_message(
                response="utter_order_status", **order_values(result.order, responses_of(domain))
            )
            return []
        if isinstance(result, ChallengeNeeded):
            return [
                SlotSet("order_id", result.order_ref),
                SlotSet(CHALLENGE_SLOT, None),
                ActiveLoop("order_challenge_form"),
            ]
        if isinstance(result, Locked):
            utter_locked(dispatcher, result)
        elif isinstance(result, Unavailable):
            await report_unavailable(dispatcher, tracker, str(order_id))
        elif isinstance(result, InvalidOrderRef):
            dispatcher.utter_message(response="utter_order_invalid_id")
        return []

    async def _recent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        async with runtime.transaction() as session:
            contact = await load_contact(session, tracker)
            result = (
                await order_service().recent_orders(session, contact)
                if contact is not None
                else NeedVerifiedContact()
            )
        if isinstance(result, NeedVerifiedContact):
            dispatcher.utter_message(response="utter_ask_order_id")
            dispatcher.utter_message(response="utter_order_share_phone_for_list")
        elif isinstance(result, Unavailable):
            await report_unavailable(dispatcher, tracker, None)
        elif isinstance(result, RecentOrders) and result.orders:
            responses = responses_of(domain)
            dispatcher.utter_message(
                response="utter_order_recent",
                buttons=[order_button(o, responses) for o in result.orders],
            )
        else:
            dispatcher.utter_message(response="utter_order_none_found")
        return []

    async def _request(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        topic: str,
        order_id: Any,
    ) -> list[EventType]:
        contact_phone = None
        async with runtime.transaction() as session:
            contact = await load_contact(session, tracker)
            if contact is not None and contact.phone_verified:
                contact_phone = contact.phone
        ticket = await open_ticket_from_form(
            tracker,
            kind="order",
            category=topic,
            description=slot_text(tracker.latest_message.get("text")),
            phone=contact_phone,
            details={"order_id": str(order_id)} if order_id else {},
        )
        language = tracker.get_slot("language") or "zh-Hant"
        dispatcher.utter_message(
            response="utter_order_request_received",
            request=f"@utter_order_topic_{topic}",
            **submitted_message(ticket, language),
        )
        return [SlotSet("attachments", None)]


class ValidateOrderChallengeForm(FormValidationAction):
    """Checks the answer to the ownership challenge (last four digits of the order's phone)."""

    def name(self) -> str:
        return "validate_order_challenge_form"

    async def validate_order_challenge_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order_id = slot_text(tracker.get_slot("order_id"))
        answer = slot_text(value) if not isinstance(value, dict) else ""
        async with runtime.transaction() as session:
            contact = await load_contact(session, tracker)
            if contact is None or not order_id:
                return {CHALLENGE_SLOT: CHALLENGE_DONE}
            result: VerifyResult = await order_service().verify_challenge(
                session, contact, order_id, answer, tracker_now(tracker)
            )
        if isinstance(result, ChallengeFailed):
            dispatcher.utter_message(
                response="utter_order_not_verified", attempts_left=result.attempts_left
            )
            return {CHALLENGE_SLOT: None}
        if isinstance(result, Disclosed):
            dispatcher.utter_message(
                response="utter_order_status", **order_values(result.order, responses_of(domain))
            )
        elif isinstance(result, Locked):
            utter_locked(dispatcher, result)
        elif isinstance(result, Unavailable):
            await report_unavailable(dispatcher, tracker, order_id)
        else:
            dispatcher.utter_message(response="utter_order_invalid_id")
        return {CHALLENGE_SLOT: CHALLENGE_DONE}


class ActionAskOrderChallengeAnswer(Action):
    """The challenge question, naming the order."""

    def name(self) -> str:
        return "action_ask_order_challenge_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_order_challenge", order_id=slot_text(tracker.get_slot("order_id"))
        )
        return []


class ActionSubmitOrderChallenge(Action):
    """The challenge is over (its outcome was already said): forget the answer."""

    def name(self) -> str:
        return "action_submit_order_challenge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet(CHALLENGE_SLOT, None)]
