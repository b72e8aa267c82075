"""Two requests in one message: both are served.

"冷氣滴水，另外想問下管理處星期日開唔開？" read whole gives one intent and loses the other
request. When the message splits into clauses (bot/dialogue/clauses.py) that carry different
things, each clause is served from its own parse:

- questions first: an FAQ answer (intent ``inquiry`` with an answer above ``faq_threshold``), or
  another request answered at once (a payment method, an order's status);
- then the first request that opens a form, started from its own clause, so the form reads its
  slots from 「冷氣滴水」 only;
- a second form request waits in ``Conversation.state["queued_request"]`` (a restart keeps it),
  with a short note, and starts by itself when the first form is submitted or cancelled.

Inside a form only one kind of split is served: a clause the FAQ answers is answered, and the
rest of the message is the form's answer. Clauses about one thing (two questions with the same
answer, a repair described in two parts) are left to the usual turn. Emergencies never get here:
the emergency path has already seen the whole message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dialogue.choices import press_typed_choice
from bot.dialogue.clauses import split_clauses
from bot.dialogue.emergency import EmergencyPolicy, hazard_of
from bot.dialogue.turn import Knowledge, Turn, TurnRunner
from bot.messages import InboundMessage
from bot.store.models import Owner

# Requests served from a clause, besides FAQ questions (their rules say what happens next).
REQUESTS = frozenset({"repair", "complaint", "order", "payment", "my_tickets"})
QUEUE_KEY = "queued_request"


@dataclass(frozen=True)
class Clause:
    """One part of the message, its parse and what it asks for."""

    text: str
    parse: dict[str, Any]
    intent: str
    # The FAQ answer's key for a question, else the intent: equal keys are one thing.
    key: str
    opens_form: bool


class TwoRequests:
    """The engine's policy for a message that holds more than one request."""

    def __init__(self, runner: TurnRunner, known: Knowledge, emergency: EmergencyPolicy) -> None:
        # The engine, seen only through the moves a turn may make: each clause is served by
        # the same rules and form loop as a whole message.
        self.runner = runner
        self.known = known
        # A hazard found in one clause only (the whole message hid it) still goes there.
        self.emergency = emergency

    async def turn(self, turn: Turn, message: InboundMessage, text: str) -> bool:
        """Serve every request of a message holding several; ``False`` if it holds one."""
        clauses = split_clauses(text)
        if len(clauses) < 2 or hazard_of(turn.parse) is not None:
            return False
        parses = [self.known.interpreter.parse(t, now=turn.now) for t in clauses]
        hazard = next((e for p in parses for e in _hazards(p)), None)
        if hazard is not None:
            # 「冷氣滴水，另外有人困咗喺部𨋢入面」: the whole message read as a repair, the clause
            # as someone trapped. The emergency wins, told in the whole message's words.
            turn.parse["entities"] = [*(turn.parse.get("entities") or []), hazard]
            return await self.emergency.turn(turn, message)
        found = [c for c in map(self._clause, clauses, parses) if c is not None]
        distinct: list[Clause] = []
        for clause in found:
            if all(c.key != clause.key for c in distinct):
                distinct.append(clause)
        if turn.active_form:
            return await self._inside_form(turn, turn.active_form, clauses, parses, found)
        if len(distinct) < 2:
            return False
        whole = turn.parse
        try:
            for clause in [c for c in distinct if not c.opens_form]:
                await self._serve(turn, clause)
            requests = [c for c in distinct if c.opens_form]
            while requests and turn.active_form is None:
                await self._serve(turn, requests.pop(0))
            if requests:
                # One form at a time: the next request waits for this one to end.
                turn.state[QUEUE_KEY] = {"text": requests[0].text, "at": turn.now.isoformat()}
                self.runner.utter(turn, "utter_second_request_queued", request=requests[0].text)
        finally:
            turn.parse = whole
        return True

    async def after(self, turn: Turn) -> None:
        """Start the queued request once the form before it has been submitted or cancelled."""
        queued = turn.state.get(QUEUE_KEY)
        if not queued or turn.active_form is not None or turn.conversation.owner != Owner.BOT:
            return
        ended = any(e.get("event") == "active_loop" and e.get("name") is None for e in turn.events)
        if not ended or hazard_of(turn.parse) is not None:
            return
        turn.state.pop(QUEUE_KEY, None)
        timeout = self.known.settings.dialogue.form_timeout
        if turn.now - datetime.fromisoformat(str(queued["at"])) > timeout:
            return  # asked for long ago: not started out of the blue
        text = str(queued["text"])
        whole = turn.parse
        try:
            turn.parse = self.known.interpreter.parse(text, now=turn.now)
            self.runner.utter(turn, "utter_second_request_next", request=text)
            await self.runner.run_rule(turn, turn.parse["intent"]["name"])
        finally:
            turn.parse = whole

    async def _inside_form(
        self,
        turn: Turn,
        form: str,
        clauses: list[str],
        parses: list[dict[str, Any]],
        found: list[Clause],
    ) -> bool:
        """A question the FAQ answers is answered; the rest is the form's answer."""
        question = next((c for c in found if c.intent == "inquiry"), None)
        if question is None:
            return False
        rest = [t for t in clauses if t != question.text]
        if not rest or any(c.key == question.key for c in found if c.text in rest):
            return False
        known, runner = self.known, self.runner
        answer = " ".join(rest)
        # One clause left: its parse is at hand; several are read again as one answer.
        parse = parses[clauses.index(answer)] if len(rest) == 1 else None
        parse = parse or known.interpreter.parse(answer, now=turn.now)
        # 「不用匿名，另外想問…」: the typed label still presses its button.
        asked = known.choices.question(form, turn.requested_slot)
        press_typed_choice(parse, known.choices.resolve(asked, answer), known.known_intents)
        whole = turn.parse
        try:
            await self._serve(turn, question)
            turn.parse = parse
            await runner.form_turn(turn, form, parse, answer)
        finally:
            turn.parse = whole
        return True

    async def _serve(self, turn: Turn, clause: Clause) -> None:
        turn.parse = clause.parse
        await self.runner.run_rule(turn, clause.intent)

    def _clause(self, text: str, parse: dict[str, Any]) -> Clause | None:
        """What the clause asks for; ``None`` if it asks for nothing served here."""
        known = self.known
        intent = str(parse["intent"]["name"])
        if float(parse["intent"].get("confidence") or 0) < known.settings.nlu.threshold:
            return None
        if intent == "inquiry":
            key = _faq_key(parse, known.settings.nlu.faq_threshold)
            if key is None or f"utter_{key}" not in known.responses:
                return None
            return Clause(text, parse, intent, key, opens_form=False)
        if intent not in REQUESTS:
            return None
        actions = known.rules.get(intent) or []
        opens_form = any(a in known.domain.forms for a in actions)
        return Clause(text, parse, intent, intent, opens_form)


def _hazards(parse: dict[str, Any]) -> list[dict[str, Any]]:
    """The clause's emergency entity, if the NLU found one."""
    hazard = hazard_of(parse)
    if hazard is None:
        return []
    return [e for e in parse.get("entities") or [] if e.get("value") == hazard][:1]


def _faq_key(parse: dict[str, Any], threshold: float) -> str | None:
    """The FAQ answer the clause gets (as bot/actions/faq.py chooses it), if any."""
    selector = (parse.get("response_selector") or {}).get("inquiry") or {}
    response = selector.get("response") or {}
    key = response.get("intent_response_key")
    if not key or float(response.get("confidence") or 0.0) < threshold:
        return None
    return str(key)
