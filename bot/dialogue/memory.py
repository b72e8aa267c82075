"""Conversation memory of entities: an order number said in one message is still meant in the
next (「SO88412 到咗未」 then 「我想退款」), so the follow-up is not asked for it again or filed
without it. Only for a short while, and only for requests about an order (a refund, a return, a
cancellation...), not for "where is my order", which lists the customer's orders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

# Entities worth carrying, the intents that may use a carried one, and the entity that makes
# the message a follow-up request (a refund, a return...; "where is my order" asks afresh).
CARRIED = {"order_id": (("order", "payment"), "order_topic")}
# Longer than this between the two messages: a new subject, nothing is carried.
MEMORY_SPAN = timedelta(minutes=30)


def carry_entities(state: dict[str, Any], parse: dict[str, Any], now: datetime) -> None:
    """Add a remembered entity to ``parse`` when its intent can use it and it names none;
    remember the entities of ``parse`` for the next message (in ``state``, which is stored)."""
    entities: list[dict[str, Any]] = parse.setdefault("entities", [])
    intent = (parse.get("intent") or {}).get("name")
    remembered: dict[str, Any] = state.get("remembered") or {}
    for name, (intents, follow_up) in CARRIED.items():
        here = next((e for e in entities if e.get("entity") == name), None)
        if here is not None:
            remembered[name] = {"value": here.get("value"), "at": now.timestamp()}
            continue
        kept = remembered.get(name)
        if not kept or now.timestamp() - float(kept["at"]) > MEMORY_SPAN.total_seconds():
            remembered.pop(name, None)
            continue
        if intent in intents and any(e.get("entity") == follow_up for e in entities):
            # An empty span: nothing of this message's text is taken by it.
            entities.append(
                {
                    "entity": name,
                    "value": kept["value"],
                    "start": 0,
                    "end": 0,
                    "extractor": "KefuMemory",
                }
            )
            kept["at"] = now.timestamp()
    if remembered:
        state["remembered"] = remembered
    else:
        state.pop("remembered", None)
