"""Orders: "where is my order", the ownership challenge, and order requests (cancel, return...).

Thin glue over :class:`bot.records.orders.OrderService`; every sentence is in
``dialogues/payments.yml``.
"""

from __future__ import annotations

import re
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
from bot.records.lateness import days_late
from bot.records.order_sources import OrderInfo
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
from bot.records.present import day, order_button, order_values
from bot.records.values import clean_order_id
from bot.store.models import Contact

CHALLENGE_SLOT = "order_challenge_answer"
# The form's slot holds the outcome once the challenge is over, so the form ends.
CHALLENGE_DONE = "done"
ORDER_TOPICS = ("cancel", "change_address", "return", "exchange", "refund", "chase")
# The slot that remembers the order talked about, so "chase it" / "just refund me" mean it.
ORDER_SLOT = "order_id"

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


def late_question(tracker: Tracker) -> bool:
    """「點解仲未到」, "hasn't arrived": the customer says the order is late."""
    return any(
        e.get("entity") == "order_topic" and e.get("value") == "late"
        for e in tracker.latest_message.get("entities") or []
    )


def same_order(a: Any, b: Any) -> bool:
    """Whether two order numbers name one order (case, spaces and ``#`` aside)."""
    try:
        return clean_order_id(a) == clean_order_id(b)
    except ValueError:
        return False


def disclose(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, order: OrderInfo
) -> list[EventType]:
    """The order's status for its verified owner; a late one is said to be late (its ETA
    against the clock) and offered a chase or a refund. The order is remembered for "chase it"."""
    dispatcher.utter_message(
        response="utter_order_status", **order_values(order, responses_of(domain))
    )
    today = tracker_now(tracker).astimezone(runtime.services().clock.tz).date()
    late = days_late(order, today)
    if late:
        buttons = [
            {
                "title": {"response": f"utter_order_late_{topic}_button", "values": {}},
                "payload": '/order{"order_topic":"'
                + topic
                + '","order_id":"'
                + order.order_id
                + '"}',
            }
            for topic in ("chase", "refund")
        ]
        dispatcher.utter_message(
            response="utter_order_late",
            buttons=buttons,
            order_id=order.order_id,
            eta=day(order.eta),
            days=late,
        )
    return [SlotSet(ORDER_SLOT, order.order_id)]


class ActionOrderStatus(Action):
    """Intent ``order``: status of a numbered order, the customer's recent orders, or a request
    (cancel, change address, return, exchange, refund) that becomes an order ticket."""

    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id = latest_entity(tracker, "order_id")
        remembered = tracker.get_slot(ORDER_SLOT)
        topic = order_topic(tracker)
        if topic == "chase" and not (order_id or remembered):
            # Chasing needs to know which order: the customer's recent ones, or ask.
            return await self._recent(dispatcher, tracker, domain)
        if topic:
            return await self._request(dispatcher, tracker, topic, order_id or remembered)
        if not order_id:
            tracking = latest_entity(tracker, "tracking_number")
            if tracking:
                return await self._tracking(dispatcher, tracker, domain, str(tracking))
            if not (late_question(tracker) and remembered):
                return await self._recent(dispatcher, tracker, domain)
            order_id = remembered
        service = order_service()
        now = tracker_now(tracker)
        async with runtime.transaction() as session:
            contact = await load_contact(session, tracker)
            if contact is None:
                dispatcher.utter_message(response="utter_order_invalid_id")
                return []
            result = await service.lookup(session, contact, str(order_id), now)
        if isinstance(result, Disclosed):
            return disclose(dispatcher, tracker, domain, result.order)
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
            today = tracker_now(tracker).astimezone(runtime.services().clock.tz).date()
            late = [o for o in result.orders if days_late(o, today)]
            if late_question(tracker) and len(late) == 1:
                # 「點解仲未到」 from the owner of exactly one late order: that one.
                return disclose(dispatcher, tracker, domain, late[0])
            responses = responses_of(domain)
            dispatcher.utter_message(
                response="utter_order_recent",
                buttons=[order_button(o, responses) for o in result.orders],
            )
        else:
            dispatcher.utter_message(response="utter_order_none_found")
        return []

    async def _tracking(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, number: str
    ) -> list[EventType]:
        """A courier's tracking number is not an order number: the verified owner's order with
        that tracking number is shown; anyone else is asked for the order number."""
        async with runtime.transaction() as session:
            contact = await load_contact(session, tracker)
            result = (
                await order_service().recent_orders(session, contact)
                if contact is not None
                else NeedVerifiedContact()
            )
        if isinstance(result, RecentOrders):
            for order in result.orders:
                if order.tracking_number and same_order(order.tracking_number, number):
                    return disclose(dispatcher, tracker, domain, order)
        dispatcher.utter_message(response="utter_order_tracking_number", tracking_number=number)
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
        corrected = latest_entity(tracker, "order_id")
        if corrected and not same_order(corrected, order_id):
            # 「唔好意思 打錯 係SO-…」: a corrected order number, not a wrong answer.
            return await self._look_up_again(dispatcher, tracker, domain, str(corrected))
        if not re.search(r"\d", answer) and "@" not in answer:
            # Only wrong digits (or e-mails) count towards the lockout; anything else is asked
            # again, the same way for every order number.
            dispatcher.utter_message(response="utter_order_challenge", order_id=order_id)
            return {CHALLENGE_SLOT: None}
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
        return await self._outcome(dispatcher, tracker, domain, result, order_id)

    async def _outcome(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        result: Any,
        order_id: str,
    ) -> dict[str, Any]:
        if isinstance(result, Disclosed):
            disclose(dispatcher, tracker, domain, result.order)
            return {CHALLENGE_SLOT: CHALLENGE_DONE, ORDER_SLOT: result.order.order_id}
        if isinstance(result, Locked):
            utter_locked(dispatcher, result)
        elif isinstance(result, Unavailable):
            await report_unavailable(dispatcher, tracker, order_id)
        else:
            dispatcher.utter_message(response="utter_order_invalid_id")
        return {CHALLENGE_SLOT: CHALLENGE_DONE}

    async def _look_up_again(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, order_id: str
    ) -> dict[str, Any]:
        """The challenge starts over for the corrected number (or the order is shown, if the
        chat owns it); no failure is counted for the mistyped one."""
        async with runtime.transaction() as session:
            contact = await load_contact(session, tracker)
            if contact is None:
                return {CHALLENGE_SLOT: CHALLENGE_DONE}
            result = await order_service().lookup(session, contact, order_id, tracker_now(tracker))
        if isinstance(result, ChallengeNeeded):
            dispatcher.utter_message(response="utter_order_challenge", order_id=result.order_ref)
            return {ORDER_SLOT: result.order_ref, CHALLENGE_SLOT: None}
        return await self._outcome(dispatcher, tracker, domain, result, order_id)


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
