"""All entities of a message: every extractor, overlaps resolved, spans on the raw text."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.nlu.entities.amounts import find_amounts
from bot.nlu.entities.common import ENTITY_SCAN_CHARS, Candidate, Spans
from bot.nlu.entities.lookups import LookupMatcher, matcher_for
from bot.nlu.entities.orders import find_order_ids
from bot.nlu.entities.phones import find_phones
from bot.nlu.entities.times import find_datetimes
from bot.nlu.entities.units import find_units
from bot.nlu.entities.visits import find_visit_words
from bot.nlu.normalize import normalize_with_map, raw_span
from bot.nlu.references import references

log = logging.getLogger(__name__)


_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}")


def _resolve(candidates: list[Candidate]) -> list[Candidate]:
    candidates.sort(key=lambda c: (-(c.end - c.start), c.priority, c.start))
    spans = Spans()
    return [cand for cand in candidates if spans.claim(cand.start, cand.end)]


def extract_entities(
    text: str,
    *,
    now: datetime,
    region: str = "HK",
    lookups: LookupMatcher | Mapping[str, Iterable[str]] | None = None,
) -> list[dict[str, Any]]:
    """All entities in ``text`` in Rasa's shape, ``start``/``end`` on the raw text, sorted by start.

    Structured entities (order_id, phone, unit, amount, datetime, email) never overlap each
    other; keyword-lookup entities may overlap them. Never raises.
    """
    if not isinstance(text, str) or not text:
        return []
    raw = text[:ENTITY_SCAN_CHARS]
    try:
        norm, index = normalize_with_map(raw)
    except Exception:
        log.exception("normalisation failed")
        return []
    return extract_normalized(raw, norm, index, now=now, region=region, lookups=lookups)


def extract_normalized(
    raw: str,
    norm: str,
    index: list[int],
    *,
    now: datetime,
    region: str = "HK",
    lookups: LookupMatcher | Mapping[str, Iterable[str]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`extract_entities` on text already normalised by :func:`normalize_with_map`."""
    try:
        structured: list[Candidate] = []
        if "@" in norm:
            structured += [
                Candidate(
                    m.start(),
                    m.end(),
                    0,
                    {"entity": "email", "value": m.group(0), "extractor": "KefuEmailExtractor"},
                )
                for m in _EMAIL.finditer(norm)
            ]
        structured += find_order_ids(norm)
        structured += references(norm, Candidate)
        structured += find_amounts(norm)
        structured += find_units(norm)
        structured += find_datetimes(norm, now)
        structured += find_visit_words(norm)
        if sum(map(str.isdigit, norm)) >= 7:
            structured += find_phones(norm, region)
        found = _resolve(structured)
        matcher = matcher_for(lookups)
        if matcher:
            found += matcher.find(norm)
        entities = []
        for cand in sorted(found, key=lambda c: (c.start, c.priority)):
            start, end = raw_span(index, cand.start, cand.end, len(raw))
            entity = dict(cand.entity)
            entity["start"], entity["end"] = start, end
            entities.append(entity)
        return entities
    except Exception:  # a bug in one pattern must not break the conversation
        log.exception("entity extraction failed")
        return []
