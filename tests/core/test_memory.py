"""Conversation memory of entities: an order number carries to the next order request only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.dialogue.memory import carry_entities

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Hong_Kong"))
TOPIC = {"entity": "order_topic", "value": "refund"}


def parse(intent: str, *entities: dict[str, Any]) -> dict[str, Any]:
    return {"intent": {"name": intent}, "entities": list(entities)}


def order_ids(p: dict[str, Any]) -> list[Any]:
    return [e["value"] for e in p["entities"] if e["entity"] == "order_id"]


def test_an_order_number_is_carried_to_the_next_order_request() -> None:
    state: dict[str, Any] = {}
    carry_entities(state, parse("order", {"entity": "order_id", "value": "SO1"}), NOW)
    refund = parse("order", TOPIC)
    carry_entities(state, refund, NOW + timedelta(minutes=2))
    assert order_ids(refund) == ["SO1"]


def test_not_to_a_question_about_orders() -> None:
    state: dict[str, Any] = {}
    carry_entities(state, parse("order", {"entity": "order_id", "value": "SO1"}), NOW)
    where = parse("order")  # "where is my order": the list of orders, not SO1 again
    carry_entities(state, where, NOW)
    assert order_ids(where) == []


def test_not_to_other_intents_and_not_after_a_while() -> None:
    state: dict[str, Any] = {}
    carry_entities(state, parse("order", {"entity": "order_id", "value": "SO1"}), NOW)
    repair = parse("repair")
    carry_entities(state, repair, NOW + timedelta(minutes=1))
    assert order_ids(repair) == []
    later = parse("order", TOPIC)
    carry_entities(state, later, NOW + timedelta(hours=2))
    assert order_ids(later) == [] and "remembered" not in state


def test_a_new_order_number_replaces_the_old_one() -> None:
    state: dict[str, Any] = {}
    carry_entities(state, parse("order", {"entity": "order_id", "value": "SO1"}), NOW)
    carry_entities(state, parse("order", {"entity": "order_id", "value": "SO2"}), NOW)
    refund = parse("payment", TOPIC)
    carry_entities(state, refund, NOW)
    assert order_ids(refund) == ["SO2"]
