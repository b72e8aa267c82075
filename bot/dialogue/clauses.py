"""Splitting one message into the requests it holds, the way people chain them.

"冷氣滴水，另外想問下管理處星期日開唔開？", "马桶堵了 顺便问一下物业费怎么交", "my tap is
leaking, also what time does the office close on sunday?": one model reading of the whole message
gives one intent and the other request is lost. The cuts here are only at markers people use to
start a second thing (另外, 仲有, 順便問, 同埋想問, 還有, also, btw, by the way, plus), at the end
of a sentence, and at a comma followed by a question word; never inside a flat, phone or order
number, and only when every part is long enough to be a request on its own.

The splitter is a few regular expressions and is only the first step: whether the parts are two
different things is decided on their parses (bot/dialogue/tworequests.py). A message with no
marker costs one failed regex search, so the usual turn is not slower.
"""

from __future__ import annotations

import re

# At most this many parts: a longer chain is a ramble about one thing, not a list of requests.
MAX_CLAUSES = 3

# 「想問下」「我都想問」「请问」… after a connective: part of the marker, not of the question
# (the FAQ model reads 「泳池幾時開」 more surely than 「想問泳池幾時開」).
_ASK = (
    r"(?:我|亦|都|也)*(?:想|要)?(?:問|问|請問|请问|查)(?:下|吓|一下|多)?"
    r"(?:你|你哋|你们|個問題|个问题)?"
)
_CJK_MARKERS = (
    # 另外 / 此外 / 仲有 / 還有 alone are enough; 「仲有冇」「還有沒有」 ask "is there still".
    rf"(?:另外|此外|仲有(?![冇無没沒得])|還有(?![冇無沒没得])|还有(?![冇无没沒得]))(?:{_ASK})?"
    # 同埋 / 順便 / 以及 start a second request only with an asking word (「冷氣同埋雪櫃」 is one).
    rf"|(?:同埋|順便|顺便|以及|另)(?:{_ASK})"
)
_EN_MARKERS = (
    r"(?:[,;.!?]\s*(?:and\s+)?|\s+and\s+)(?:also|plus)\b"
    r"|\b(?:btw|by\s+the\s+way|one\s+more\s+thing|and\s+another\s+thing|another\s+question)\b"
)
_EN_ASK = r"(?:\s*,?\s*(?:i\s+)?(?:also\s+)?(?:want(?:ed)?|would\s+like|'d\s+like)\s+to\s+ask)?"
_QUESTION_WORDS = (
    r"(?:請問|请问|想問|想问|問下|问下|幾時|几时|幾點|几点|點樣|点样|怎麼|怎么|怎樣|怎样|有冇|"
    r"有沒有|有没有|可唔可以|可不可以|係咪|是不是|"
    r"(?i:what|when|where|how|is|are|can|could|do|does)\b)"
)
_BOUNDARY = re.compile(
    rf"[\s，,、；;:：]*(?:{_CJK_MARKERS})[\s，,:：]*"
    rf"|(?i:\s*(?:{_EN_MARKERS}){_EN_ASK})[\s,:]*"
    # A sentence ends: the punctuation stays with the sentence it ends.
    r"|(?<=[。？！?!])\s*(?=\S)"
    r"|(?<=[A-Za-z)][.])\s+(?=[A-Za-z])"
    # 「冷氣滴水，幾時可以嚟整？」: a comma, then a question.
    rf"|[，,]\s*(?={_QUESTION_WORDS})"
)
_CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]")
_TOKENS = re.compile(r"[A-Za-z]+|\d+")
_TRIM = " \t\r\n，,、；;:："


def substantial_clause(text: str) -> bool:
    """Long enough to be a request on its own: 「冷氣滴水」, "my tap is leaking", not 「好」."""
    return len(_CJK.findall(text)) + len(_TOKENS.findall(text)) >= 3


def split_clauses(text: str) -> list[str]:
    """The message's requests in order; ``[text]`` when it holds one (the common case).

    A cut is dropped when it would fall inside a token (a flat, phone or order number), and the
    whole split is dropped when any part is too short to stand alone or there are too many.
    """
    cuts: list[tuple[int, int]] = []
    for match in _BOUNDARY.finditer(text):
        start, end = match.span()
        if start == 0 or end >= len(text):
            continue
        if text[start - 1].isdigit() and text[end].isdigit():
            continue  # never inside a number (「1,502」, "Rm 15. 02")
        cuts.append((start, end))
    if not cuts:
        return [text]
    parts: list[str] = []
    position = 0
    for start, end in cuts:
        parts.append(text[position:start])
        position = end
    parts.append(text[position:])
    clauses = [p.strip(_TRIM) for p in parts]
    clauses = [c for c in clauses if c]
    if len(clauses) < 2 or len(clauses) > MAX_CLAUSES:
        return [text]
    if not all(substantial_clause(c) for c in clauses):
        return [text]
    return clauses
