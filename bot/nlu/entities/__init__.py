"""Rule-based entity extraction: order ids, phones, units, amounts, dates/times, e-mails, keywords.

Every extractor works on the normalised text (NFKC, lower case, Traditional→Simplified one
character at a time; see :mod:`bot.nlu.normalize`) so one Simplified pattern serves both scripts,
and reports ``start``/``end`` on the raw text. Entities come out in Rasa's shape::

    {"entity": "unit", "value": {...}, "start": 0, "end": 9, "extractor": "KefuUnitExtractor"}

Nothing here raises on bad input: :func:`extract_entities` returns ``[]`` at worst.

One module per kind of entity: :mod:`.orders`, :mod:`.phones`, :mod:`.amounts`, :mod:`.units`
(flats), :mod:`.times` and :mod:`.timewords` (dates, times, visit windows), :mod:`.visits`
("as soon as possible"), :mod:`.lookups` (keyword tables: categories, places...); e-mails and
the combining of them all in :mod:`.extract`. What callers use is exported here.
"""

from bot.nlu.entities.common import ENTITY_SCAN_CHARS, MAX_PER_KIND, cn_number
from bot.nlu.entities.extract import extract_entities, extract_normalized
from bot.nlu.entities.lookups import LookupMatcher
from bot.nlu.entities.phones import parse_phone
from bot.nlu.entities.times import parse_datetime, parse_window
from bot.nlu.entities.units import format_unit, parse_unit, unit_key

__all__ = [
    "ENTITY_SCAN_CHARS",
    "MAX_PER_KIND",
    "LookupMatcher",
    "cn_number",
    "extract_entities",
    "extract_normalized",
    "format_unit",
    "parse_datetime",
    "parse_phone",
    "parse_unit",
    "parse_window",
    "unit_key",
]
