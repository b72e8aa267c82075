"""Emergencies by meaning: the hazard detector's labels and how its verdict becomes an entity.

Keyword lists caught 1 of 7 ways of saying "someone is trapped in the lift" (issue #13.1). A
classifier over the intent model's features, trained on many phrasings per hazard and a large
``none`` class, generalises; the ``emergency.*`` keyword lookups stay as a backstop for what it
misses. Either way the result is the one ``emergency`` entity the dialogue engine consumes::

    {"entity": "emergency", "value": "trapped", "start": 0, "end": 12,
     "extractor": "KefuEmergencyClassifier", "confidence": 0.91}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bot.nlu.normalize import CJK_CLASS

_CJK = re.compile(f"[{CJK_CLASS}]")
_WORD = re.compile(r"[A-Za-z]{2,}")
HAZARDS = ("gas", "trapped", "burst_pipe", "fire", "power_cut", "flooding")
NO_HAZARD = "none"
ENTITY = "emergency"
EXTRACTOR = "KefuEmergencyClassifier"
# Above this probability of "none" a keyword hit alone is not trusted: 「火警鐘亂響但冇火」,
# 「上次爆水喉嗰單跟成點」 name a hazard without reporting one.
KEYWORD_VETO = 0.9
# A verdict this sure stands even when the intent model reads something else than a report.
SURE = 0.9
_REPORTS = frozenset({"repair", "complaint"})


def hazard_labels(
    examples: Sequence[tuple[str, str]],
    explicit: dict[str, str],
    entities_of: Callable[[str], list[dict[str, Any]]],
) -> list[str]:
    """One training label per example: its ``metadata: {emergency: ...}``, else the keyword
    lookup's hazard for a repair (older data carries no metadata), else ``none``."""
    labels: list[str] = []
    for text, intent in examples:
        label = explicit.get(text)
        if label not in HAZARDS and label != NO_HAZARD:
            label = NO_HAZARD
            if intent == "repair":
                found = [
                    e["value"]
                    for e in entities_of(text)
                    if e.get("entity") == ENTITY and e.get("value") in HAZARDS
                ]
                label = found[0] if found else NO_HAZARD
        labels.append(label)
    return labels


def enough_to_judge(text: str) -> bool:
    """Whether a message says enough for the detector: one or two characters ("火", "水",
    「火星」) or one English word are left to the keyword lookups (「火燭」 is one)."""
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(text))
    return cjk >= 3 or words >= 2 or (cjk >= 1 and words >= 1)


def detect(
    classes: Sequence[str], probs: np.ndarray, threshold: float, text: str | None = None
) -> tuple[str, float]:
    """The likeliest hazard and its probability, or ``("none", p_none)`` below ``threshold``
    (or for a ``text`` too short to judge, see :func:`enough_to_judge`)."""
    if not len(classes) or probs.size == 0:
        return NO_HAZARD, 1.0
    if text is not None and not enough_to_judge(text):
        return NO_HAZARD, 0.0
    best = int(np.argmax(probs))
    name, p = classes[best], float(probs[best])
    if name == NO_HAZARD:
        return NO_HAZARD, p
    if p < threshold:
        return NO_HAZARD, float(
            probs[list(classes).index(NO_HAZARD)]
        ) if NO_HAZARD in classes else 0.0
    return name, p


def corroborated(hazard: str, confidence: float, top_intent: str) -> bool:
    """Whether a hazard verdict stands: the intent model reads a report of a fault (repair or
    complaint), or the detector is sure. "gas bill" is out of scope whatever "gas" suggests."""
    return hazard != NO_HAZARD and (top_intent in _REPORTS or confidence >= SURE)


def merge(
    entities: list[dict[str, Any]], hazard: str, confidence: float, text_length: int
) -> list[dict[str, Any]]:
    """Entities with the detector's verdict: its hazard replaces keyword ``emergency`` entities;
    with no verdict the keywords stand (backstop) unless the detector is sure there is none."""
    keyword = [e for e in entities if e.get("entity") == ENTITY]
    others = [e for e in entities if e.get("entity") != ENTITY]
    if hazard == NO_HAZARD:
        if confidence >= KEYWORD_VETO:
            return others
        return entities
    span = next((e for e in keyword if e.get("value") == hazard), None)
    start, end = (span["start"], span["end"]) if span else (0, text_length)
    found = {
        "entity": ENTITY,
        "value": hazard,
        "start": start,
        "end": end,
        "extractor": EXTRACTOR,
        "confidence": round(confidence, 4),
    }
    return sorted([*others, found], key=lambda e: (e.get("start", 0), e.get("end", 0)))
