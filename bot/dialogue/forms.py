"""The form loop: a form asks its required slots one by one until all are filled, then runs
its submit actions.

Each answer is extracted (bot/dialogue/slots.py), validated by the form's ``validate_<form>``
action if one is registered, and the next empty slot is asked (``action_ask_*`` or
``utter_ask_*``). Around that: a correction of an earlier answer, a side question answered
without leaving the form, a request of another kind that leaves it, a form left for days that
starts afresh, and a user who fails the same question too often being offered a person. What
the rules do with a message that leaves the form goes back through the
:class:`~bot.dialogue.turn.TurnRunner` (the policy decides that).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.actions.visits import asks_cost
from bot.dialogue import corrections, switch
from bot.dialogue.bridge import ActionBridge
from bot.dialogue.slots import extract_slots
from bot.dialogue.text import mostly_entities, substantial
from bot.dialogue.turn import Knowledge, Turn, TurnRunner

log = logging.getLogger(__name__)

# While a form waits for an answer, these intents interrupt it (answered, then the question is
# asked again) unless the message also fills a slot.
INTERRUPTING = {"inquiry", "my_tickets", "greet", "thanks", "help", "choose_language", "start"}


class FormLoop:
    """Opens, answers, validates, submits and leaves forms for a turn."""

    def __init__(self, runner: TurnRunner, known: Knowledge, bridge: ActionBridge) -> None:
        self.runner = runner
        self.known = known
        self.bridge = bridge

    async def activate(
        self, turn: Turn, form: str, *, carried: dict[str, Any] | None = None
    ) -> None:
        """Open ``form``: its slots start empty but for what Kefu knows and what the message
        (or ``carried``, from a form of another kind) already says; ask the first question."""
        turn.conversation.active_form = form
        turn.slots["requested_slot"] = None
        turn.state["retries"] = {}
        turn.events.append({"event": "active_loop", "name": form})
        for slot in self.known.domain.required_slots(form) + self._form_extra_slots(form):
            turn.slots[slot] = None
        await self._prefill(turn, form)
        candidates = self._extract(turn, form, requested=None) | (carried or {})
        await self._validate_and_continue(turn, form, candidates, attempted=False)

    def _form_extra_slots(self, form: str) -> list[str]:
        return list(self.known.domain.forms.get(form, {}).get("reset_slots", []))

    async def _prefill(self, turn: Turn, form: str) -> None:
        """What Kefu already knows about the contact is not asked again: shown in the summary,
        changeable there. The flat is the linked resident's, else the one used last; a flat or
        common area named in the message that starts the form replaces it."""
        required = self.known.domain.required_slots(form)
        if "phone" in required and turn.contact.phone:
            turn.slots["phone"] = turn.contact.phone
        if "unit" in required:
            from bot.actions.known import known_unit

            turn.slots["unit"] = await known_unit(
                turn.session,
                turn.contact,
                now=turn.now,
                region=self.known.settings.default_region,
            )

    def _extract(
        self, turn: Turn, form: str | None, requested: str | None, *, entities_only: bool = False
    ) -> dict[str, Any]:
        parse = turn.parse
        return extract_slots(
            self.known.domain,
            text=parse.get("text", ""),
            intent=parse["intent"]["name"],
            entities=parse.get("entities", []),
            active_form=form,
            requested_slot=requested,
            entities_only=entities_only,
        )

    async def answer(self, turn: Turn, form: str, parse: dict[str, Any], text: str) -> None:
        """Take a message as the answer to the active form's question, or as what interrupts,
        corrects, switches or leaves the form."""
        intent = parse["intent"]["name"]
        requested = turn.requested_slot
        target = switch.corrected_kind(form, requested, text, intent)
        if target is not None:
            # 「唔係投訴呀 我係要整走廊啲燈」 at the summary: the same request, of another kind.
            carried = switch.carried(form, target, turn.slots, text)
            self.deactivate(turn)
            self.bridge.utter(turn, f"utter_switched_to_{target.removesuffix('_form')}")
            await self.activate(turn, target, carried=carried)
            return
        if intent == "change":
            slot = parse["entities"][0]["value"] if parse.get("entities") else None
            if slot in self.known.domain.required_slots(form):
                turn.slots[slot] = None
                self._reset_confirmation(turn, form)
                turn.slots["requested_slot"] = None
                await self.continue_form(turn, form, attempted=False)
                return
        entity_slots = self._extract(turn, form, requested=None, entities_only=True)
        fills_requested = requested is not None and requested in entity_slots
        spec = self.known.domain.forms.get(form, {})
        idle = turn.now - turn.conversation.updated_at
        if not fills_requested and idle > self.known.settings.dialogue.form_timeout:
            # Back after days: a new message starts afresh instead of answering an old question.
            self.deactivate(turn)
            self.bridge.utter(turn, "utter_form_expired")
            await self.runner.run_rule(turn, intent)
            return
        interrupts = spec.get("interrupt_intents") or []
        if (
            intent in interrupts
            and requested not in (spec.get("free_text_slots") or [])
            and not fills_requested
            and float(parse["intent"].get("confidence", 0))
            >= max(self.known.settings.nlu.threshold, 0.6)
            and substantial(text)
        ):
            # A new request where a flat, a rating or a choice was expected: leave the form
            # (saying so, if the form wants it said) and serve the new request.
            self.deactivate(turn)
            if spec.get("left_response"):
                self.bridge.utter(turn, str(spec["left_response"]))
            await self.runner.run_rule(turn, intent)
            return
        if (
            not entity_slots
            and intent in INTERRUPTING
            and self._confident(parse)
            and not (requested in (spec.get("cost_question_slots") or []) and asks_cost(text))
        ):
            # (A cost question where the visit time is asked is about this repair: the form
            # notes it for the technician instead of answering from the FAQ.)
            handled = await self._interrupt(turn, intent)
            if handled:
                await self._ask(turn, form, requested)
                return
        candidates = self._extract(turn, form, requested=requested)
        others = {k: v for k, v in entity_slots.items() if k != requested}
        corrections = {
            k: v
            for k, v in others.items()
            if turn.slots.get(k) is not None and turn.slots.get(k) != v
        }
        if others and not fills_requested and requested is not None and mostly_entities(parse):
            # The message answers another question (「不是，是1503室」, or the flat when asked
            # for the category): take that answer, keep the open question open.
            candidates.pop(requested, None)
        if corrections:
            self._reset_confirmation(turn, form)
            candidates = {k: v for k, v in candidates.items() if not k.endswith("_confirmed")}
        await self._validate_and_continue(
            turn, form, candidates, attempted=requested is not None, corrected=bool(corrections)
        )

    def _confident(self, parse: dict[str, Any]) -> bool:
        return float(parse["intent"].get("confidence", 0)) >= self.known.settings.nlu.threshold

    async def _interrupt(self, turn: Turn, intent: str) -> bool:
        """Answer a side question inside a form; ``False`` if there was nothing to answer."""
        if intent == "inquiry":
            return await self.bridge.run_action(turn, "action_answer_faq", interrupt=True)
        actions = self.known.rules.get(intent) or []
        if not actions or any(a in self.known.domain.forms for a in actions):
            return False
        for name in actions:
            await self.bridge.run_action(turn, name)
        return True

    def _reset_confirmation(self, turn: Turn, form: str) -> None:
        for slot in self.known.domain.required_slots(form):
            if slot.endswith("_confirmed"):
                turn.slots[slot] = None

    async def _validate_and_continue(
        self,
        turn: Turn,
        form: str,
        candidates: dict[str, Any],
        *,
        attempted: bool,
        corrected: bool = False,
    ) -> None:
        for slot, value in candidates.items():
            turn.events.append({"event": "slot", "name": slot, "value": value})
        before = {slot: turn.slots.get(slot) for slot in candidates}
        validated = await self._run_validation(turn, form, candidates)
        if corrected:
            refused = corrections.rejected(candidates, validated)
            if refused and turn.state.pop("validation_uttered", False):
                # The validator said what is wrong with the correction and asked for it again:
                # no "corrected", and that question is not asked a second time.
                turn.slots["requested_slot"] = refused[0]
                return
            if not refused:
                response, values = corrections.correction_reply(before, validated, turn.language)
                self.bridge.utter(turn, response, **values)
        await self.continue_form(turn, form, attempted=attempted, validated=validated)

    async def _run_validation(
        self, turn: Turn, form: str, candidates: dict[str, Any]
    ) -> dict[str, Any]:
        """Run ``validate_<form>`` (if registered) on the candidates; apply what it returns."""
        name = f"validate_{form}"
        if name not in self.known.action_names:
            turn.slots.update(candidates)
            return dict(candidates)
        before = dict(turn.slots)
        turn.slots.update(candidates)
        # The SDK validates the SlotSet events at the end of the tracker's event list.
        result = await self.bridge.execute(
            turn,
            name,
            extra_events=[{"event": "slot", "name": k, "value": v} for k, v in candidates.items()],
            slots=before | candidates,
            metadata={"previous_slots": {k: before.get(k) for k in candidates}},
        )
        validated: dict[str, Any] = dict(candidates)
        for event in result:
            if event.get("event") == "slot":
                validated[event["name"]] = event.get("value")
        turn.slots.update(validated)
        return validated

    async def continue_form(
        self,
        turn: Turn,
        form: str,
        *,
        attempted: bool,
        validated: dict[str, Any] | None = None,
    ) -> None:
        """Ask the next empty slot, or submit the form when none is left. ``attempted``: the
        message tried to answer the open question (a failure counts as a retry)."""
        requested = turn.requested_slot
        validated = validated or {}
        if "requested_slot" in validated:
            next_slot = validated["requested_slot"]
        else:
            next_slot = next(
                (s for s in self.known.domain.required_slots(form) if turn.slots.get(s) is None),
                None,
            )
        retries: dict[str, int] = turn.state.setdefault("retries", {})
        uttered = turn.state.pop("validation_uttered", False)
        # A validator that names the requested slot again without a word of its own asks it on
        # purpose (the next item of a series, e.g. the owner evaluation's next area): an
        # answer, not a failed one.
        again = validated.get("requested_slot") == requested and not uttered
        if attempted and requested and next_slot == requested and not again:
            # A "no" at a summary is a wish to edit, not a failed answer.
            if not requested.endswith("_confirmed"):
                retries[requested] = retries.get(requested, 0) + 1
                if retries[requested] >= self.known.settings.dialogue.max_form_retries:
                    retries[requested] = 0
                    self.bridge.utter(turn, "utter_offer_human_after_retries")
                    return
            if uttered:
                # The validator already said what is wrong and asked again (or what to edit).
                turn.slots["requested_slot"] = next_slot
                return
        if next_slot is None:
            await self._submit(turn, form)
            return
        turn.slots["requested_slot"] = next_slot
        await self._ask(turn, form, next_slot)

    async def _ask(self, turn: Turn, form: str, slot: str | None) -> None:
        if slot is None:
            return
        for name in (f"action_ask_{form}_{slot}", f"action_ask_{slot}"):
            if name in self.known.action_names:
                await self.bridge.run_action(turn, name)
                return
        for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
            if name in self.known.responses:
                self.bridge.utter(turn, name)
                return
        log.error("no question for slot %s of %s", slot, form)

    async def _submit(self, turn: Turn, form: str) -> None:
        turn.conversation.active_form = None
        turn.slots["requested_slot"] = None
        turn.state["retries"] = {}
        turn.events.append({"event": "active_loop", "name": None})
        for name in self._submit_actions(form):
            await self.bridge.run_action(turn, name)

    def _submit_actions(self, form: str) -> list[str]:
        for rule in self.known.domain.rules:
            conditions = rule.get("condition") or []
            if not any(c.get("active_loop") == form for c in conditions):
                continue
            steps = rule.get("steps", [])
            if any(s.get("active_loop", "") is None for s in steps):
                return [s["action"] for s in steps if "action" in s and s["action"] != form]
        return [f"action_submit_{form.removesuffix('_form')}"]

    def deactivate(self, turn: Turn) -> None:
        """Leave the active form, forgetting what it had collected."""
        form = turn.active_form
        if form is None:
            return
        for slot in self.known.domain.required_slots(form) + self._form_extra_slots(form):
            turn.slots[slot] = None
        turn.slots["requested_slot"] = None
        turn.conversation.active_form = None
        turn.state["retries"] = {}
        turn.events.append({"event": "active_loop", "name": None})
