"""Ticket numbers and courier tracking numbers in a message (on normalised text).

Kept apart from order numbers because each means something else to the dialogue: a ticket
number (``R-20261202-0002``) is one of Kefu's own tickets, a tracking number is the carrier's,
and neither may be looked up as an order. Both outrank an order number read from the same
characters (lower priority value wins a tie in :func:`bot.nlu.entities.extract._resolve`).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

# bot.store.models.TICKET_PREFIX (repair, complaint, inquiry, order, payment, feedback); not
# imported so that the NLU stays free of the database layer.
_TICKET_LETTERS = "rcqopf"
# R-20261202-0002, r 20261202 0002, R202612020002; never inside a longer word or number.
_TICKET = re.compile(
    rf"(?<![a-z0-9])([{_TICKET_LETTERS}])[-\s]?(20\d{{6}})[-\s]?(\d{{4}})(?![a-z0-9])"
)
# "tracking number SF1234567890", 「運單號 SF123...」 (normalised to simplified), 「物流單號」.
_TRACKING = re.compile(
    r"(?:tracking\s*(?:no\.?|number|code|#)?|waybill(?:\s*(?:no\.?|number))?|"
    r"运单号?码?|快递单号|物流单号|追踪号码?|追踪编号)"
    r"\s*(?:is|是|系|:|：|#)?\s*([a-z]{0,4}\d{6,22})(?![a-z0-9])"
)


class CandidateFactory(Protocol):
    def __call__(self, start: int, end: int, priority: int, entity: dict[str, Any]) -> Any: ...


def ticket_number(text: str) -> str | None:
    """The canonical ticket number in ``text`` (already normalised), if there is one."""
    match = _TICKET.search(text.lower())
    if match is None:
        return None
    return f"{match.group(1).upper()}-{match.group(2)}-{match.group(3)}"


def references(norm: str, candidate: CandidateFactory) -> list[Any]:
    """``ticket_id`` and ``tracking_number`` candidates in ``norm``, built by ``candidate``."""
    out = []
    for match in _TICKET.finditer(norm):
        value = f"{match.group(1).upper()}-{match.group(2)}-{match.group(3)}"
        entity = {"entity": "ticket_id", "value": value, "extractor": "KefuTicketIdExtractor"}
        out.append(candidate(match.start(), match.end(), 0, entity))
    for match in _TRACKING.finditer(norm):
        entity = {
            "entity": "tracking_number",
            "value": match.group(1).upper(),
            "extractor": "KefuTrackingNumberExtractor",
        }
        out.append(candidate(match.start(1), match.end(1), 0, entity))
    return out
