"""Validation shared by Kefu's forms: units, phones, times, free-text details, categories."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import runtime
from bot.nlu.entities import parse_phone, parse_unit

# Words that carry no detail on their own ("I want to report a repair"): a description made of
# nothing else is asked for again. Matching only; nothing here is shown to users.
_FILLER = re.compile(
    r"(我要|我想|想|要|請|请|幫我|帮我|麻煩|麻烦|報修|报修|維修|维修|投訴|投诉|搵人|找人|有嘢|"
    r"有问题|有問題|壞咗|坏了|唔該|唔该|你好|您好|\bi\b|\bwant\b|\bwould\b|\blike\b|\bto\b|"
    r"\breport\b|\ba\b|\ban\b|\brepair\b|\bcomplaint\b|\bcomplain\b|\bplease\b|\bneed\b|"
    r"\bfix\b|\bsomething\b|\bhelp\b|\bmake\b|\bhi\b|\bhello\b|[\s\W_])",
    re.I,
)
MAX_DETAIL_CHARS = 1000


def meaningful(text: str, minimum: int = 3) -> bool:
    """Whether ``text`` says more than "I want to report something"."""
    return len(_FILLER.sub("", text)) >= minimum


def slot_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def validate_unit(
    value: Any, dispatcher: CollectingDispatcher, previous: Any = None, *, asked: bool = True
) -> dict[str, Any]:
    """A unit (dict of block/unit/floor/room) from an entity or the user's own words.

    A partial correction (「不是，是1503室」) keeps the block and unit already given. When the
    flat was not the question (``asked`` false), an unusable one is dropped without a word.
    """
    unit = value if isinstance(value, dict) else parse_unit(slot_text(value))
    if unit and unit.get("area"):
        # A common area (「走廊」, "car park"): the place is the location, no flat to ask.
        return {"unit": {k: v for k, v in unit.items() if v is not None}}
    if unit and (unit.get("room") or unit.get("floor")):
        unit = {k: v for k, v in unit.items() if v is not None}
        if isinstance(previous, dict) and not (unit.get("block") or unit.get("unit")):
            # 「唔係, 係C室」 / "no, flat C": same block and floor, another flat.
            kept = ("block", "block_word", "unit", "floor")
            unit = {k: previous[k] for k in kept if previous.get(k) and not unit.get(k)} | unit
        return {"unit": unit}
    if asked:  # a partial flat mentioned in passing is simply asked for later
        dispatcher.utter_message(response="utter_invalid_unit")
    return {"unit": None}


def validate_phone(value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """A phone number, normalised to E.164."""
    region = runtime.services().settings.default_region
    phone = parse_phone(slot_text(value), region) if value else None
    if phone:
        return {"phone": phone}
    dispatcher.utter_message(response="utter_invalid_phone")
    return {"phone": None}


def validate_details(
    slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """What happened, in the user's words; "I want to report something" alone is asked again
    (``utter_ask_<slot>_more`` when it was the question, else silently)."""
    text = slot_text(value)
    if text.startswith("/") or not meaningful(text):
        if tracker.get_slot("requested_slot") == slot:
            dispatcher.utter_message(response=f"utter_ask_{slot}_more")
        return {slot: None}
    return {slot: text[:MAX_DETAIL_CHARS]}


def validate_category(
    slot: str,
    value: Any,
    known: tuple[str, ...],
    detail_slot: str,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
) -> dict[str, Any]:
    """A category from a button, or free words where a button was offered: then the words are
    kept in the details (``detail_slot``) and the category is "other"."""
    if value in known:
        return {slot: value}
    text = slot_text(value)
    if text and meaningful(text, 2):
        details = slot_text(tracker.get_slot(detail_slot))
        merged = f"{details} / {text}" if details else text
        return {slot: "other", detail_slot: merged[:MAX_DETAIL_CHARS]}
    dispatcher.utter_message(response=f"utter_invalid_{slot}")
    return {slot: None}


def validate_time(
    slot: str,
    value: Any,
    dispatcher: CollectingDispatcher,
    now: datetime,
    *,
    entity: dict[str, Any] | None = None,
    notes: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """A visit time: a button token, a time or a window (``start/end``) from the NLU's datetime
    ``entity``, or the user's own words. A time that has passed is asked again; a question is
    never taken for a time: it is noted in ``notes`` (the details slot and its text) instead."""
    from bot.actions.display import VISIT_TOKENS
    from bot.actions.visits import looks_like_question, parse_visit, visit_value

    text = slot_text(value)
    if text in VISIT_TOKENS:
        return {slot: text}
    if not text:
        dispatcher.utter_message(response=f"utter_invalid_{slot}")
        return {slot: None}
    parsed = parse_visit(text, now, entity)
    if parsed is not None:
        stored = visit_value(*parsed, now)
        if stored is None:
            dispatcher.utter_message(response=f"utter_{slot}_in_past")
        return {slot: stored}
    if looks_like_question(text):
        dispatcher.utter_message(response=f"utter_{slot}_question_noted")
        result: dict[str, Any] = {slot: None}
        if notes is not None:
            detail_slot, details = notes
            merged = f"{slot_text(details)} / {text}" if slot_text(details) else text
            result[detail_slot] = merged[:MAX_DETAIL_CHARS]
        return result
    return {slot: text[:200]}


def tracker_now(tracker: Tracker) -> datetime:
    """The engine's clock at this turn (so tests control time), else the configured clock."""
    meta = tracker.latest_message.get("metadata") or {}
    if meta.get("now"):
        return datetime.fromisoformat(meta["now"])
    return runtime.services().clock.now()


def previous_value(tracker: Tracker, slot: str) -> Any:
    """The slot's value before this turn's answer (the engine passes it in the metadata)."""
    meta = tracker.latest_message.get("metadata") or {}
    return (meta.get("previous_slots") or {}).get(slot)


def latest_entity(tracker: Tracker, name: str, *, full: bool = False) -> Any:
    """The value of the latest message's first ``name`` entity (the whole entity if ``full``)."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == name:
            return entity if full else entity.get("value")
    return None


def form_values(tracker: Tracker, names: list[str]) -> dict[str, Any]:
    return {n: tracker.get_slot(n) for n in names}
