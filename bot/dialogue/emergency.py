"""The emergency path: above forms and above who owns the chat.

An ``emergency`` entity (gas, trapped, burst_pipe, fire, power_cut, flooding) gets at once, in
this order: the safety advice for that hazard, an urgent repair ticket with what is known (the
category from the hazard, the place if the message names one, the phone if Kefu has one), and
through the urgent SLA policy the on-duty alert. Only then are the missing details asked, one
question each (the place, then a phone number), and each answer is added to the ticket.

The place may be a common area ("7座地下大堂1號電梯", "car park"): any words are taken; a
non-answer is asked about once more, then given up. A form that was waiting for an answer is
set aside (with a note), never fed the emergency as its answer. In a chat an agent owns, the
agent asks the questions; in a queued chat nobody is talking to the customer yet, so Kefu asks
(the agents' desk relays every message to the topic as usual).

What is being asked lives in ``Conversation.state["emergency"]``, so a restart loses nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.actions.forms import meaningful
from bot.config import Settings
from bot.dialogue.turn import Turn, TurnRunner
from bot.messages import InboundMessage
from bot.store.models import Owner

HAZARDS = ("gas", "trapped", "burst_pipe", "fire", "power_cut", "flooding")
# Emergency numbers by ``default_region`` (data, not wording: the texts are in dialogues/).
LINES: dict[str, dict[str, str]] = {
    "HK": {"fire_line": "999", "ambulance_line": "999", "police_line": "999"},
    "MO": {"fire_line": "999", "ambulance_line": "999", "police_line": "999"},
    "CN": {"fire_line": "119", "ambulance_line": "120", "police_line": "110"},
    "TW": {"fire_line": "119", "ambulance_line": "119", "police_line": "110"},
}
DEFAULT_LINES = {"fire_line": "112", "ambulance_line": "112", "police_line": "112"}
# Details asked this long after the report are no longer waited for.
ASK_WINDOW = timedelta(hours=1)
# Not an answer to "where is it?": served as usual, the question stays open.
PASS_THROUGH = {"inquiry", "my_tickets", "help", "start", "choose_language", "set_language"}
# A clear new request of these kinds ends the questions (the ticket is complete enough).
NEW_REQUEST = {"complaint", "order", "payment", "human"}
# Words that are no place at all ("ok", "thanks", "不知道"): asked once more, then given up.
NOT_A_PLACE = {"affirm", "deny", "greet", "thanks", "goodbye"}


def hazard_of(parse: dict[str, Any]) -> str | None:
    """The hazard the NLU found in the message, if any."""
    for entity in parse.get("entities") or []:
        if entity.get("entity") == "emergency" and entity.get("value") in HAZARDS:
            return str(entity["value"])
    return None


def _entity(parse: dict[str, Any], name: str) -> Any:
    for entity in parse.get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return entity["value"]
    return None


# "At home" typed where the place is asked, for a contact whose flat Kefu knows (matching only).
_HOME = re.compile(
    r"^(我|我的|喺|在|我家|我屋企)?(屋企|家|家里|家裡|自己屋企|單位|单位|屋企入面|家里面)$"
    r"|^(in |at )?(my )?(flat|home|place|unit|apartment)$",
    re.I,
)


def _plain(parse: dict[str, Any]) -> str:
    return re.sub(r"[\s。，,.!！]+$", "", str(parse.get("text") or "").strip())


def _surface(parse: dict[str, Any], name: str) -> str | None:
    """The words of the first ``name`` entity, as the user wrote them."""
    text = str(parse.get("text") or "")
    for entity in parse.get("entities") or []:
        start, end = entity.get("start"), entity.get("end")
        if entity.get("entity") == name and start is not None and end is not None:
            return text[start:end].strip() or None
    return None


class EmergencyPolicy:
    """Decides a turn when it is about an emergency; the engine asks it first."""

    def __init__(self, runner: TurnRunner, settings: Settings) -> None:
        # The engine, seen only through the moves a turn may make.
        self.runner = runner
        self.settings = settings
        self.lines = LINES.get(settings.default_region.upper(), DEFAULT_LINES)

    async def turn(self, turn: Turn, message: InboundMessage) -> bool:
        """Handle the turn if it reports an emergency or answers an emergency's question;
        ``False`` leaves it to the rest of the engine."""
        hazard = hazard_of(turn.parse)
        pending = self._pending(turn)
        # The same hazard while its place is asked is the answer when it names a place
        # ("3樓走廊有煙"); otherwise it is the report again (people in panic repeat themselves).
        answers = (
            pending is not None
            and pending.get("hazard") == hazard
            and pending.get("asking") == "location"
            and _entity(turn.parse, "unit") is not None
        )
        if hazard and not answers:
            await self._report(turn, hazard, pending)
            return True
        if pending:
            return await self._answer(turn, message, pending)
        return False

    async def shared_phone(self, turn: Turn) -> bool:
        """The contact button pressed while Kefu waits for an emergency's phone number."""
        pending = self._pending(turn)
        if not pending or pending.get("asking") != "phone":
            return False
        if turn.conversation.owner == Owner.AGENT:
            return False  # the agent asked for it and sees it
        await self.runner.run_action(turn, "action_emergency_detail", phone=turn.contact.phone)
        self._done(turn, pending, "utter_emergency_details_added")
        return True

    async def media(self, turn: Turn, message: InboundMessage) -> bool:
        """Photos or files alone, soon after an emergency in a chat Kefu talks in: they belong
        on its ticket (staff see the burst pipe before they arrive)."""
        state = turn.state.get("emergency")
        if not isinstance(state, dict) or not state.get("ticket"):
            return False
        if turn.conversation.owner == Owner.AGENT:
            return False
        if turn.now.timestamp() - float(state.get("at") or 0) > ASK_WINDOW.total_seconds():
            return False
        files = list(turn.slots.get("attachments") or [])
        files.extend(a.to_dict() for a in message.attachments)
        turn.slots["attachments"] = files
        await self.runner.run_action(turn, "action_emergency_detail")
        self.runner.utter(turn, "utter_emergency_files_added", ticket_number=state["ticket"])
        if state.get("asking"):
            await self._ask(turn, state)
        return True

    # ------------------------------------------------------------------ reporting

    async def _report(self, turn: Turn, hazard: str, pending: dict[str, Any] | None) -> None:
        runner = self.runner
        runner.utter(turn, f"utter_emergency_advice_{hazard}", **self.lines)
        owner = turn.conversation.owner
        set_aside = owner == Owner.BOT and turn.active_form is not None
        if set_aside:
            # The old question must not take this message as its answer. What the form had
            # collected stays in the conversation's events, and every message is stored.
            turn.events.append(
                {"event": "form_set_aside", "name": turn.active_form, "reason": "emergency"}
            )
            runner.deactivate_form(turn)
        location, unit = self._place(turn, first=True)
        phone = _entity(turn.parse, "phone") or turn.contact.phone
        before = turn.slots.get("emergency_ticket")
        await runner.run_action(
            turn,
            "action_open_emergency",
            hazard=hazard,
            text=turn.parse.get("text") or "",
            location=location,
            unit=unit,
            phone=phone,
        )
        if set_aside:
            runner.utter(turn, "utter_form_set_aside_for_emergency")
        number = turn.slots.get("emergency_ticket")
        if not number:
            return  # the action failed and said so
        if number == before and pending:
            await self._ask(turn, pending)  # reported again: the open question still stands
            return
        if number == before:
            return
        needs = [n for n, known in (("location", location), ("phone", phone)) if not known]
        state: dict[str, Any] = {
            "ticket": number,
            "hazard": hazard,
            "needs": needs,
            "asking": None,
            "tries": 0,
            "at": turn.now.timestamp(),
        }
        turn.state["emergency"] = state
        if owner == Owner.AGENT or not needs:
            return  # an agent is talking to the customer and asks what they need
        state["asking"] = needs[0]
        await self._ask(turn, state)

    def _place(self, turn: Turn, *, first: bool) -> tuple[str | None, dict[str, Any] | None]:
        """Where it is: a flat (``unit`` too), or the user's own words for a common area. In
        the first message only a recognised unit counts (the words are the report)."""
        from bot.nlu.entities import format_unit

        unit = _entity(turn.parse, "unit")
        office = self.settings.default_language
        if isinstance(unit, dict) and unit.get("room"):
            flat = {k: v for k, v in unit.items() if v is not None}
            return format_unit(flat, office), flat
        if first:
            if isinstance(unit, dict) and not any(
                unit.get(part) for part in ("block", "unit", "floor", "room")
            ):
                # A common area alone ("the corridor", "car park"): which one is still asked.
                return None, None
            # Part of an address ("7座", "3/F"): kept as written (a 座 stays a 座).
            return _surface(turn.parse, "unit"), None
        text = " ".join(str(turn.parse.get("text") or "").split()).strip(" ，。,.!！?？")
        return (text[:100] or None), None

    # ------------------------------------------------------------------ questions

    def _pending(self, turn: Turn) -> dict[str, Any] | None:
        state = turn.state.get("emergency")
        if not isinstance(state, dict) or not state.get("asking"):
            return None
        if turn.now.timestamp() - float(state.get("at") or 0) > ASK_WINDOW.total_seconds():
            state["asking"] = None
            return None
        return state

    async def _ask(self, turn: Turn, state: dict[str, Any]) -> None:
        asking = state.get("asking")
        if asking == "location":
            if int(state.get("tries") or 0) > 0:
                self.runner.utter(turn, "utter_ask_emergency_location_again")
            elif turn.contact.unit:
                # Kefu knows their flat: one press if it is there (a gas smell usually is).
                self.runner.utter(turn, "utter_ask_emergency_location_home", home=turn.contact.unit)
            else:
                self.runner.utter(turn, "utter_ask_emergency_location")
        elif asking == "phone":
            again = int(state.get("tries") or 0) > 0
            self.runner.utter(turn, "utter_invalid_phone" if again else "utter_ask_emergency_phone")

    async def _answer(self, turn: Turn, message: InboundMessage, state: dict[str, Any]) -> bool:
        parse = turn.parse
        intent = str(parse["intent"]["name"])
        confident = float(parse["intent"].get("confidence", 0)) >= self.settings.nlu.threshold
        if turn.conversation.owner == Owner.AGENT:
            state["asking"] = None  # an agent took over: they ask from here
            return False
        # "Is it at your flat?" answered by its button, "my flat", or a plain yes.
        home = state.get("asking") == "location" and (
            _entity(parse, "emergency_location") == "home"
            or _HOME.match(_plain(parse))
            or (intent == "affirm" and confident and not int(state.get("tries") or 0))
        )
        if home and turn.contact.unit:
            flat, parts = self._home(turn)
            return await self._located(turn, state, flat, parts, _entity(parse, "phone"))
        if message.payload or str(parse.get("text") or "").startswith("/"):
            state["asking"] = None  # a command or a button: the user moved on
            return False
        if intent == "cancel" and confident:
            if turn.conversation.owner == Owner.QUEUE:
                state["asking"] = None  # leaving the queue, as anywhere else in it
                return False
            self._done(turn, state, "utter_emergency_details_skipped")
            return True
        if confident and intent in NEW_REQUEST:
            state["asking"] = None
            return False
        has_unit = _entity(parse, "unit") is not None
        phone = _entity(parse, "phone")
        if confident and intent in PASS_THROUGH and not has_unit and not phone:
            return False
        runner = self.runner
        asking = state.get("asking")
        if asking == "location":
            text = str(parse.get("text") or "")
            is_place = has_unit or (
                meaningful(text, 2) and not (confident and intent in NOT_A_PLACE)
            )
            if not is_place and not int(state.get("tries") or 0):
                state["tries"] = 1
                await self._ask(turn, state)
                return True
            location, unit = self._place(turn, first=False) if is_place else (None, None)
            return await self._located(turn, state, location, unit, phone)
        # asking == "phone"
        if phone is None:
            from bot.nlu.entities import parse_phone

            phone = parse_phone(str(parse.get("text") or ""), self.settings.default_region)
        if phone:
            await runner.run_action(turn, "action_emergency_detail", phone=phone)
            self._done(turn, state, "utter_emergency_details_added")
            return True
        if not int(state.get("tries") or 0):
            state["tries"] = 1
            await self._ask(turn, state)
            return True
        self._done(turn, state, "utter_emergency_details_skipped")
        return True

    async def _located(
        self,
        turn: Turn,
        state: dict[str, Any],
        location: str | None,
        unit: dict[str, Any] | None,
        phone: str | None,
    ) -> bool:
        """The place question answered (or given up): add it, then ask the phone if needed."""
        if location or phone:
            await self.runner.run_action(
                turn, "action_emergency_detail", location=location, unit=unit, phone=phone
            )
        if phone or "phone" not in (state.get("needs") or []):
            added = bool(location or phone)
            self._done(
                turn,
                state,
                "utter_emergency_details_added" if added else "utter_emergency_details_skipped",
            )
            return True
        state.update(asking="phone", tries=0)
        await self._ask(turn, state)
        return True

    def _home(self, turn: Turn) -> tuple[str, dict[str, Any] | None]:
        """The contact's own flat, as the place."""
        from bot.nlu.entities import format_unit, parse_unit

        known = str(turn.contact.unit)
        parsed = parse_unit(known)
        if parsed and parsed.get("room"):
            flat = {k: v for k, v in parsed.items() if v is not None}
            return format_unit(flat, self.settings.default_language), flat
        return known, None

    def _done(self, turn: Turn, state: dict[str, Any], response: str) -> None:
        state["asking"] = None
        self.runner.utter(turn, response, ticket_number=state.get("ticket"))
