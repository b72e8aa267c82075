"""The dialogue policy: what a turn does with a message.

In this order: a shared phone number, a photo or an empty message; the emergency path (above
forms and above who owns the chat); a chat a person owns or waits for (the bot stays quiet but
for the queue); commands; a message holding several requests; the active form's question; the
rules, with the fallback for what the NLU did not understand. Understanding a message (the NLU,
a button's payload, a typed button label, the user's language) is done here too, once per turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.actions.visits import finer_than_button
from bot.config import LANGUAGES
from bot.dialogue import memory
from bot.dialogue.bridge import ActionBridge
from bot.dialogue.choices import press_typed_choice
from bot.dialogue.emergency import EmergencyPolicy
from bot.dialogue.forms import FormLoop
from bot.dialogue.payloads import parse_payload, to_entities
from bot.dialogue.text import confident_language
from bot.dialogue.turn import Knowledge, Turn
from bot.dialogue.tworequests import TwoRequests
from bot.messages import InboundMessage
from bot.store.models import Owner

# Intents the engine itself understands (commands and buttons), besides the NLU's.
ENGINE_INTENTS = {
    "start",
    "help",
    "choose_language",
    "set_language",
    "inform",
    "change",
    "unknown_command",
}
BUSINESS_INTENTS = ("inquiry", "repair", "complaint", "order", "payment")


class Policy:
    """Decides each turn; the forms, the actions and the two special paths do the work."""

    def __init__(
        self,
        known: Knowledge,
        *,
        forms: FormLoop,
        bridge: ActionBridge,
        emergency: EmergencyPolicy,
        two_requests: TwoRequests,
        detect_language: Callable[[str], str | None],
    ) -> None:
        self.known = known
        self.forms = forms
        self.bridge = bridge
        self.emergency = emergency
        self.two_requests = two_requests
        self.detect_language = detect_language

    async def decide(self, turn: Turn, message: InboundMessage, text: str) -> None:
        """Decide what the turn does with the message: the emergency path first, then
        whoever owns the chat, commands, several requests at once, the active form, the
        rules."""
        if message.contact_phone:
            self._learn_phone(turn, message.contact_phone)
            if not text and not message.payload and await self.emergency.shared_phone(turn):
                return
        if not text and not message.payload:
            if message.attachments and await self.emergency.media(turn, message):
                return
            if turn.conversation.owner != Owner.BOT:
                # A person has (or will take) this chat: keep it for them, say nothing.
                if message.attachments:
                    self._add_attachments(turn, message)
                await self._not_ours(turn, "")
                return
            if message.attachments:
                self._add_attachments(turn, message)
                if turn.active_form:
                    self.bridge.utter(turn, "utter_attachment_added")
                    return
                self.bridge.utter(turn, "utter_attachment_received")
                return
            if message.contact_phone:
                self.bridge.utter(turn, "utter_phone_received", phone=turn.contact.phone)
                if turn.active_form and turn.requested_slot == "phone":
                    turn.slots["phone"] = turn.contact.phone
                    await self.forms.continue_form(turn, turn.active_form, attempted=False)
                return
            self.bridge.utter(turn, "utter_empty_message")
            return
        if message.attachments:
            self._add_attachments(turn, message)

        limit = self.known.settings.dialogue.max_message_chars
        truncated = len(text) > limit
        if truncated:
            text = text[:limit]

        parse = self._understand(turn, message, text)
        memory.carry_entities(turn.state, parse, turn.now)
        turn.parse = parse
        turn.events.append(
            {"event": "user", "text": text, "parse_data": parse, "timestamp": turn.now.timestamp()}
        )
        # An emergency comes first, whoever owns the chat and whatever form waits for an answer.
        emergency = await self.emergency.turn(turn, message)
        if truncated:
            self.bridge.utter(turn, "utter_message_truncated", limit=limit)
        if emergency:
            return

        intent = parse["intent"]["name"]
        owner = turn.conversation.owner
        if owner != Owner.BOT:
            await self._not_ours(turn, intent)
            return
        if intent == "unknown_command":
            self.bridge.utter(turn, "utter_unknown_command")
            return
        if intent == "cancel" or (intent == "human"):
            await self.run_rule(turn, intent)
            return
        if message.payload is None and await self.two_requests.turn(turn, message, text):
            return
        if turn.active_form:
            await self.forms.answer(turn, turn.active_form, parse, text)
            return
        await self.run_rule(turn, intent)

    def _understand(self, turn: Turn, message: InboundMessage, text: str) -> dict[str, Any]:
        raw = message.payload or text
        payload = parse_payload(raw.strip(), self.known.known_intents) if raw.strip() else None
        pending = turn.slots.pop("pending_text", None)
        if payload is not None and pending and payload.intent in BUSINESS_INTENTS:
            # The user picked what they meant after a clarifying question: understand their
            # original words with that intent (so 「部電梯有問題」 still fills the form).
            parse = self.known.interpreter.parse(str(pending), now=turn.now)
            parse["intent"] = {"name": payload.intent, "confidence": 1.0}
        elif payload is not None:
            parse = {
                "text": raw,
                "intent": {"name": payload.intent, "confidence": 1.0},
                "intent_ranking": [{"name": payload.intent, "confidence": 1.0}],
                "entities": to_entities(payload.entities),
                "language": None,
                "command_args": payload.rest,
            }
        else:
            parse = self.known.interpreter.parse(text, now=turn.now)
            language = parse.get("language") or self.detect_language(text)
            established = bool(turn.state.get("language_known"))
            if language in LANGUAGES and (
                not established or confident_language(text, language, turn.language)
            ):
                turn.slots["language"] = language
                turn.state["language_known"] = True
        # Buttons offered by the last reply (else the pending question's): a typed answer that
        # names one of them presses it (bot/dialogue/choices.py).
        shown = turn.state.pop("choices", None)
        if payload is None and turn.active_form and text.strip():
            question = shown or self.known.choices.question(turn.active_form, turn.requested_slot)
            resolution = self.known.choices.resolve(question, text)
            if resolution is None or not finer_than_button(resolution.payload, parse["entities"]):
                press_typed_choice(parse, resolution, self.known.known_intents)
        elif payload is None and shown and text.strip() and turn.conversation.owner == Owner.BOT:
            # Outside a form only a message that is clearly one of the last reply's buttons
            # presses it (「好」 or "2" at the notices opt-out question); anything else, a new
            # request typed instead of an answer included, is read by the NLU as usual.
            resolution = self.known.choices.resolve(shown, text)
            if resolution is not None and resolution.payload is not None:
                press_typed_choice(parse, resolution, self.known.known_intents)
        return parse

    async def _not_ours(self, turn: Turn, intent: str) -> None:
        """An agent owns the chat (or it waits for one): the bot stays quiet but for the queue."""
        if turn.conversation.owner == Owner.QUEUE:
            if intent == "cancel":
                await self.bridge.set_owner(turn, Owner.BOT)
                turn.events.append({"event": "resume"})
                self.bridge.utter(turn, "utter_left_queue")
                return
            last = turn.state.get("queue_notice_at")
            if last is None or turn.now.timestamp() - float(last) > 600:
                turn.state["queue_notice_at"] = turn.now.timestamp()
                self.bridge.utter(turn, "utter_still_in_queue")

    async def run_rule(self, turn: Turn, intent: str) -> None:
        """The rules' actions (or form) for ``intent``; a ticket number or similar entity
        routes the message first, an unclear message gets the fallback."""
        found = {e.get("entity") for e in (turn.parse or {}).get("entities") or []}
        routed = next(
            (
                a
                for e, only, a in self.known.entity_rules
                if e in found and (not only or intent in only)
            ),
            None,
        )
        if routed is not None and turn.active_form is None and intent != "human":
            # A message carrying e.g. a ticket number is about that ticket, whatever its intent.
            turn.state.pop("fallbacks", None)
            for name in routed:
                await self.bridge.run_action(turn, name)
            return
        if intent == "nlu_fallback":
            await self._fallback(turn)
            return
        turn.state.pop("fallbacks", None)
        actions = self.known.rules.get(intent)
        if not actions:
            actions = self.known.rules.get("out_of_scope", ["utter_out_of_scope"])
        for name in actions:
            if name in self.known.domain.forms:
                await self.forms.activate(turn, name)
            else:
                await self.bridge.run_action(turn, name)

    async def _fallback(self, turn: Turn) -> None:
        count = int(turn.state.get("fallbacks", 0)) + 1
        turn.state["fallbacks"] = count
        if count >= self.known.settings.dialogue.fallbacks_before_human:
            turn.state["fallbacks"] = 0
            # Offer a person, or (agents.escalate_on_fallback) hand over straight away.
            if self.known.settings.agents.escalate_on_fallback:
                await self.bridge.run_action(turn, "action_handoff", reason="fallback")
            else:
                await self.bridge.run_action(turn, "action_offer_human")
            return
        await self.bridge.run_action(turn, "action_clarify")

    def _learn_phone(self, turn: Turn, phone: str) -> None:
        from bot.nlu.entities import parse_phone

        normalised = parse_phone(phone, self.known.settings.default_region) or phone
        turn.contact.phone = normalised
        turn.contact.phone_verified = True
        turn.contact.updated_at = turn.now

    def _add_attachments(self, turn: Turn, message: InboundMessage) -> None:
        files = list(turn.slots.get("attachments") or [])
        files.extend(a.to_dict() for a in message.attachments)
        turn.slots["attachments"] = files
