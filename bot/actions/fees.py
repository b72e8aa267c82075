"""Fees and payments: balance, payment methods, payment proofs and receipt requests.

Only a chat linked to the resident registry (by a verified phone) sees a unit's fees. Thin glue
over :mod:`bot.records`; every sentence is in ``dialogues/payments.yml``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.ext.asyncio import AsyncSession

from bot.actions import runtime
from bot.actions.forms import latest_entity, meaningful, slot_text, tracker_now
from bot.actions.orders import load_contact, responses_of
from bot.actions.tickets import open_ticket_from_form, submitted_message
from bot.records.fees import balance
from bot.records.models import Resident
from bot.records.present import balance_values, day, money
from bot.records.residents import link_contact_by_phone, residents_for_contact
from bot.records.units import show_unit
from bot.store.models import Contact

PROOF_SLOT = "payment_proof_details"
QR_METHODS = ("fps", "wechat", "alipay")


async def linked_residents(
    session: AsyncSession, contact: Contact | None, now: datetime
) -> list[Resident]:
    """The chat's residents; a verified phone not linked yet is matched against the registry."""
    if contact is None:
        return []
    residents = await residents_for_contact(session, contact.id)
    if not residents and contact.phone and contact.phone_verified:
        region = runtime.services().settings.default_region
        await link_contact_by_phone(session, contact, contact.phone, now=now, region=region)
        residents = await residents_for_contact(session, contact.id)
    return residents


# When a message matches several topics ("I paid, please send a receipt"), the first wins.
# A dispute ("you charged 2300 but my lease says 2100") is never filed as a payment.
TOPIC_PRIORITY = ("dispute", "proof", "receipt_request", "methods", "balance")


def payment_topic(tracker: Tracker) -> str | None:
    """The message's payment topic from the ``payment_topic`` keyword lookups."""
    found = {
        str(e.get("value"))
        for e in tracker.latest_message.get("entities") or []
        if e.get("entity") == "payment_topic"
    }
    return next((t for t in TOPIC_PRIORITY if t in found), None)


class ActionPayment(Action):
    """Intent ``payment``: send it to the balance, the payment methods, a payment proof or a
    receipt request, by the ``payment_topic`` keywords and whether a photo came with it."""

    def name(self) -> str:
        return "action_payment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        topic = payment_topic(tracker)
        if topic == "dispute":
            # The complaint form takes the message as its details and 「計錯」/"overcharged" as
            # the fees category, then asks only what is missing.
            return [ActiveLoop("complaint_form")]
        # A photo is a payment proof unless the words ask for something else (the slot can also
        # hold photos from earlier in the chat).
        if tracker.get_slot("attachments") and topic in (None, "proof"):
            return await ActionPaymentProof().run(dispatcher, tracker, domain)
        if topic == "methods":
            return await ActionPaymentMethods().run(dispatcher, tracker, domain)
        if topic == "receipt_request":
            return await ActionReceiptRequest().run(dispatcher, tracker, domain)
        amount_given = latest_entity(tracker, "amount") is not None
        if topic == "proof" or (topic is None and amount_given):
            if amount_given:
                return await ActionPaymentProof().run(dispatcher, tracker, domain)
            return [SlotSet(PROOF_SLOT, None), ActiveLoop("payment_proof_form")]
        return await ActionFeeBalance().run(dispatcher, tracker, domain)


class ActionFeeBalance(Action):
    """What a linked resident's unit owes: total, overdue items, late fees."""

    def name(self) -> str:
        return "action_fee_balance"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        services = runtime.services()
        now = tracker_now(tracker)
        language = tracker.get_slot("language") or services.settings.default_language
        responses = responses_of(domain)
        async with runtime.transaction() as session:
            contact = await load_contact(session, tracker)
            residents = await linked_residents(session, contact, now)
            if not residents:
                verified = contact is not None and contact.phone_verified
                dispatcher.utter_message(
                    response="utter_link_phone_not_registered"
                    if verified
                    else "utter_link_phone_needed"
                )
                return []
            units: dict[str, Resident] = {}
            for resident in residents:
                units.setdefault(resident.unit_key, resident)
            today = now.astimezone(services.clock.tz).date()
            for unit_key, resident in units.items():
                result = await balance(session, unit_key, today, services.settings.fees)
                unit = show_unit(resident.unit_parts, resident.unit_display, language)
                values = balance_values(result, unit, responses)
                if result.settled:
                    dispatcher.utter_message(response="utter_no_arrears", unit=unit)
                    continue
                dispatcher.utter_message(response="utter_fee_balance", **values)
                if result.overdue_items:
                    dispatcher.utter_message(
                        response="utter_fee_balance_overdue_note",
                        currency=values["currency"],
                        overdue_total=values["overdue_total"],
                    )
        return []


class ActionPaymentMethods(Action):
    """How to pay: the methods from dialogues/, then each QR code that has an image."""

    def name(self) -> str:
        return "action_payment_methods"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_payment_methods")
        responses = responses_of(domain)
        for method in QR_METHODS:
            variations = responses.get(f"utter_payment_qr_{method}") or []
            if any(v.get("image") for v in variations):
                dispatcher.utter_message(response=f"utter_payment_qr_{method}")
        return []


def _amount_and_date(tracker: Tracker, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Amount and payment date read from the message: ticket details and reply values."""
    details: dict[str, Any] = {}
    values: dict[str, Any] = {
        "amount": "@utter_payment_value_unknown",
        "date": "@utter_payment_value_unknown",
    }
    currency_default = runtime.services().settings.fees.currency
    amount = latest_entity(tracker, "amount")
    if isinstance(amount, dict) and amount.get("value") is not None:
        try:
            value = Decimal(str(amount["value"])).quantize(Decimal("0.01"))
        except ArithmeticError:
            value = None
        if value is not None and value >= 0:
            currency = amount.get("currency") or currency_default
            details.update(amount=str(value), currency=currency)
            values["amount"] = f"{currency} {money(value)}"
    when = latest_entity(tracker, "datetime")
    if isinstance(when, str):
        try:
            paid = datetime.fromisoformat(when)
        except ValueError:
            paid = None
        if paid is not None and paid.tzinfo is not None:
            # A payment is in the past: 「11月25日」 read as next year means this year.
            if paid > now + timedelta(days=1):
                try:
                    paid = paid.replace(year=paid.year - 1)
                except ValueError:
                    paid = None
            if paid is not None:
                details["paid_on"] = day(paid, runtime.services().clock.tz)
                values["date"] = details["paid_on"]
    return details, values


async def _resident_context(tracker: Tracker, now: datetime) -> tuple[Any, str | None]:
    """The linked unit (parts) and verified phone for a finance ticket, if known."""
    async with runtime.transaction() as session:
        contact = await load_contact(session, tracker)
        residents = await linked_residents(session, contact, now)
        phone = contact.phone if contact is not None and contact.phone_verified else None
    unit = residents[0].unit_parts or residents[0].unit_display if residents else None
    return unit, phone


class ActionPaymentProof(Action):
    """A receipt photo (or "I paid 1500 on 25 Nov"): a finance ticket with amount and date."""

    def name(self) -> str:
        return "action_payment_proof"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        now = tracker_now(tracker)
        details, values = _amount_and_date(tracker, now)
        unit, phone = await _resident_context(tracker, now)
        text = slot_text(tracker.get_slot(PROOF_SLOT)) or slot_text(
            tracker.latest_message.get("text")
        )
        ticket = await open_ticket_from_form(
            tracker,
            kind="payment",
            category="payment_proof",
            description=text,
            unit=unit,
            phone=phone,
            details=details,
        )
        language = tracker.get_slot("language") or "zh-Hant"
        dispatcher.utter_message(
            response="utter_payment_proof_received",
            **values,
            **submitted_message(ticket, language),
        )
        return [SlotSet("attachments", None), SlotSet(PROOF_SLOT, None)]


class ActionReceiptRequest(Action):
    """ "Please send me a receipt / invoice": a finance ticket."""

    def name(self) -> str:
        return "action_receipt_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        now = tracker_now(tracker)
        unit, phone = await _resident_context(tracker, now)
        ticket = await open_ticket_from_form(
            tracker,
            kind="payment",
            category="receipt_request",
            description=slot_text(tracker.latest_message.get("text")),
            unit=unit,
            phone=phone,
        )
        language = tracker.get_slot("language") or "zh-Hant"
        dispatcher.utter_message(
            response="utter_receipt_request_received", **submitted_message(ticket, language)
        )
        return []


class ValidatePaymentProofForm(FormValidationAction):
    """The proof form needs a photo, or at least the amount paid."""

    def name(self) -> str:
        return "validate_payment_proof_form"

    def validate_payment_proof_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = slot_text(value)
        has_photo = bool(tracker.get_slot("attachments"))
        # Words are a proof only when they are about the payment (an amount, a date, "I paid"):
        # anything else ("Use my name") would become a finance ticket's description.
        about_payment = (
            latest_entity(tracker, "amount") is not None
            or latest_entity(tracker, "datetime") is not None
            or payment_topic(tracker) == "proof"
        )
        if has_photo or (about_payment and text and meaningful(text, 2)):
            return {PROOF_SLOT: text[:1000] or "-"}
        dispatcher.utter_message(response="utter_payment_proof_ask")
        return {PROOF_SLOT: None}


class ActionSubmitPaymentProof(Action):
    """The proof form is complete: open the finance ticket."""

    def name(self) -> str:
        return "action_submit_payment_proof"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return await ActionPaymentProof().run(dispatcher, tracker, domain)
