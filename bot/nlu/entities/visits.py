"""Visit-time answers that are no instant: "as soon as possible", "any time"."""

from __future__ import annotations

import itertools
import re

from bot.nlu.entities.common import MAX_PER_KIND, Candidate, alternation

# "As soon as possible" and "any time" are answers to "when may we come?", not instants: they
# come out as the visit_time entity with the repair form's own button values.
_VISIT_WORDS = {
    "asap": ("越快越好", "愈快愈好", "越早越好", "尽快", "尽早", "asap", "as soon as possible"),
    "anytime": (
        "任何时间都可以",
        "任何时间",
        "几时都得",
        "几时都可以",
        "什么时候都可以",
        "什么时间都可以",
        "随时都可以",
        "any time",
        "anytime",
        "whenever",
    ),
}
_VISIT_VALUE = {word: value for value, words in _VISIT_WORDS.items() for word in words}
_VISIT_RE = re.compile(rf"(?<![a-z])({alternation(_VISIT_VALUE)})(?![a-z])")


def find_visit_words(norm: str) -> list[Candidate]:
    return [
        Candidate(
            m.start(),
            m.end(),
            4,
            {
                "entity": "visit_time",
                "value": _VISIT_VALUE[m.group(1)],
                "extractor": "KefuDatetimeExtractor",
            },
        )
        for m in itertools.islice(_VISIT_RE.finditer(norm), MAX_PER_KIND)
    ]
