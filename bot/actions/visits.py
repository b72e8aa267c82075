"""Visit times: a button token, an instant, or a window ("today", "this afternoon").

A window is kept in the visit-time slot (and on the ticket) as an ISO 8601 interval,
``start/end``; an instant as one ISO time; a button token as itself (``asap``); a phrase Kefu
cannot read as a time ("after work on weekdays") as the user's own words.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from bot.nlu.entities import parse_window
from bot.nlu.windows import ceil_quarter

# A visit this much in the past is refused ("yesterday", "this morning at 8" at noon).
PAST_GRACE = timedelta(minutes=30)

# Questions are not visit times: "how much does it cost?", 「要幾多錢」, 「幾時嚟到？」 while the
# technician's time is asked. Matching only; nothing here is shown to users.
_QUESTION = re.compile(
    r"[?？]\s*$|^(?:how|what|why|who|where|which|is|are|do|does|can|could|will|would)\b|"
    r"幾多|几多|多少|點解|点解|為什麼|为什么|為何|为何|點樣|点样|怎樣|怎样|怎麼|怎么|嗎|吗|"
    r"收費|收费|費用|费用|價錢|价钱|幾錢|几钱|\bcost\b|\bprice\b|\bcharge\b|\bfee\b",
    re.I,
)


# Questions about what a repair costs ("要幾多錢", "how much will it cost?").
_COST = re.compile(
    r"幾多錢|几多钱|多少钱|多少錢|幾錢|几钱|收費|收费|費用|费用|價錢|价钱|"
    r"\bcost\b|\bprice\b|\bcharge\b|\bhow much\b",
    re.I,
)


def asks_cost(text: str) -> bool:
    """Whether ``text`` asks what something costs (inside a repair: what the repair costs)."""
    return bool(_COST.search(text))


def looks_like_question(text: str) -> bool:
    """Whether ``text`` (which holds no time) asks something rather than answers "when"."""
    return bool(_QUESTION.search(text.strip()))


def parse_visit(
    text: str, now: datetime, entity: dict[str, Any] | None = None
) -> tuple[datetime, datetime | None] | None:
    """(start, end) of a visit time: an interval ``start/end``, an ISO time (with the NLU's
    window end when ``entity`` is the datetime entity it came from), or words with a time."""
    if "/" in text:
        first, _, last = text.partition("/")
        try:
            return datetime.fromisoformat(first), datetime.fromisoformat(last)
        except ValueError:
            pass
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        return parse_window(text, now=now)
    end = None
    if entity and entity.get("value") == text and entity.get("to"):
        end = datetime.fromisoformat(str(entity["to"]))
    return start, end


def visit_value(start: datetime, end: datetime | None, now: datetime) -> str | None:
    """The slot value for a visit from ``start`` (to ``end``); None when it has passed."""
    if (end or start) <= now - PAST_GRACE or (end is not None and end <= now):
        return None
    if end is None:
        return start.isoformat()
    start = max(start, ceil_quarter(now))
    return f"{start.isoformat()}/{end.isoformat()}"


# Visit-time buttons a typed time may be finer than: 「今日下晝」 is more than "today".
_COARSE_TOKENS = ("asap", "today", "weekend", "anytime")


def finer_than_button(payload: str | None, entities: list[dict[str, Any]]) -> bool:
    """Whether a typed visit time says more than the button its words name: 「今日下晝」 or
    "Saturday 10am" keep their window or time instead of pressing 「今日內」 or 「週末」."""
    if not payload or '"visit_time"' not in payload:
        return False
    for entity in entities:
        if entity.get("entity") != "datetime":
            continue
        grain = entity.get("grain")
        if grain in ("hour", "minute"):
            return True
        if grain == "part_of_day" and any(f'"{t}"' in payload for t in _COARSE_TOKENS):
            return True
    return False
