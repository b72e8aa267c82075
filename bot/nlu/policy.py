"""From the classifiers' scores to the intent a parse reports (thresholds and guard rails).

Three rules sit on top of "the likeliest intent above ``nlu.threshold``" (issue #13):

* **ticket floor**: repair, complaint, order and payment open a ticket, so they need
  ``nlu.ticket_threshold``; below it the parse is ``nlu_fallback`` (Kefu asks which was meant)
  instead of a ticket nobody asked for;
* **emergencies first**: a detected hazard is a repair whatever the classifier's doubts (unless the
  message asks about one's tickets or a general question), and never waits behind the floor;
* **numbers in context**: a message that is only a phone number, an amount or a bare number is
  never goodbye (886/88 are): Kefu asks what it is about; a bare order number is an order.
"""

from __future__ import annotations

import re
from typing import Any

from bot.config import NLUSettings

FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
TICKET_INTENTS = frozenset({"repair", "complaint", "order", "payment"})
# Questions about a hazard (what to do, my earlier ticket) are not reports of one.
_ASKING = frozenset({"inquiry", "my_tickets"})
_REFERENCE_ENTITIES = ("order_id", "phone", "amount", "unit", "email")
_FILLER = re.compile(r"[\s\W_]+")
_DIGITS = re.compile(r"\d")
# 88 and 886 are Chinese chat for "bye"; four digits and more are a number someone gives us.
_MIN_BARE_DIGITS = 4


def bare_reference(text: str, entities: list[dict[str, Any]]) -> str | None:
    """``order_id``/``phone``/``amount``/``unit``/``email``/``number`` when the message is only
    that (with spaces and punctuation); None when there are words as well."""
    kinds: list[tuple[int, str]] = []
    rest = list(text)
    for entity in entities:
        name = entity.get("entity")
        if name not in _REFERENCE_ENTITIES:
            continue
        start, end = int(entity.get("start", 0)), int(entity.get("end", 0))
        kinds.append((end - start, str(name)))
        rest[start:end] = [" "] * (end - start)
    left = _FILLER.sub("", "".join(rest))
    if kinds:
        return max(kinds)[1] if not left else None
    if left.isdigit() and len(_DIGITS.findall(text)) >= _MIN_BARE_DIGITS:
        return "number"
    return None


def decide(
    ranking: list[dict[str, Any]],
    *,
    has_signal: bool,
    nlu: NLUSettings,
    text: str,
    entities: list[dict[str, Any]],
    hazard: str | None,
    hazard_confidence: float = 0.0,
) -> dict[str, Any]:
    """The reported intent ``{"name", "confidence"}`` from the ranking and the guard rails."""
    if not ranking or not has_signal:
        # Nothing we have ever seen (empty, emoji, garbage): not something we can serve.
        return {"name": OUT_OF_SCOPE_INTENT, "confidence": 0.0}
    top = ranking[0]
    confidence = float(top["confidence"])
    if hazard and top["name"] not in _ASKING:
        return {"name": "repair", "confidence": round(max(confidence, hazard_confidence), 4)}
    bare = bare_reference(text, entities)
    if bare == "order_id":
        order = next((r for r in ranking if r["name"] == "order"), None)
        return {"name": "order", "confidence": float(order["confidence"]) if order else 0.0}
    if bare is not None:
        return {"name": FALLBACK_INTENT, "confidence": confidence}
    second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
    if confidence < nlu.oos_threshold:
        return {"name": OUT_OF_SCOPE_INTENT, "confidence": confidence}
    if confidence < nlu.threshold or confidence - second < nlu.margin:
        return {"name": FALLBACK_INTENT, "confidence": confidence}
    if top["name"] in TICKET_INTENTS and confidence < nlu.ticket_threshold:
        return {"name": FALLBACK_INTENT, "confidence": confidence}
    return dict(top)
