"""Order numbers a shop would print (SO88412, SO-2026-1130-006, #A1234, 订单号 123456).

Kefu's own ticket numbers are not order numbers (see :mod:`bot.nlu.references`).
"""

from __future__ import annotations

import re

from bot.nlu.entities.common import Candidate

_NOT_ORDER_PREFIX = frozenset(
    {"rm", "hk", "us", "nt", "no", "tel", "fps", "flat", "room", "unit", "blk", "apt", "ph", "fax"}
)
_ORDER_PATTERNS = [
    # SO88412, SO-2026-1130-006 (read whole), SO 2026 1130 006 (three groups or more: fewer
    # spaced groups are usually a word and a phone number, "call 9123 4567")
    re.compile(
        r"(?<![a-z0-9])([a-z]{1,4})(?:-?(\d{2,20}(?:-\d{2,20})*)|\s(\d{2,8}(?:\s\d{2,8}){2,}))"
        r"(?![a-z0-9])"
    ),
    re.compile(r"#\s?([a-z]{0,4}\d{3,20})(?![a-z0-9])"),
    re.compile(r"(?<![\d\-])(\d{8}-\d{3,8})(?![\d\-])"),
    re.compile(
        r"(?:订单编?号?|单号|编号|order\s*(?:no\.?|number|id|#)?)"
        r"\s*(?:是|系|:|：|#)?\s*(\d{5,20})(?![\d])"
    ),
]
# Kefu's own ticket numbers (R-20261202-0002) are no order numbers.
_TICKET_NUMBER = re.compile(r"[rc]-\d{8}-\d{4}")


def find_order_ids(norm: str) -> list[Candidate]:
    out: list[Candidate] = []
    for number, pattern in enumerate(_ORDER_PATTERNS):
        for match in pattern.finditer(norm):
            if number == 0:
                letters, dashed, spaced = match.groups()
                digits = re.sub(r"\D", "", dashed or spaced)
                if (
                    letters in _NOT_ORDER_PREFIX
                    or len(digits) < 4
                    or _TICKET_NUMBER.match(norm, match.start())
                ):
                    continue
                if len(letters) == 1 and len(digits) < 6:
                    continue
                start, end = match.start(), match.end()
                # As written, except that spaces become the dashes a shop would print.
                value = (match.group(0) if dashed else f"{letters}-{spaced}").upper()
                value = value.replace(" ", "-")
            elif number == 1:
                start, end = match.start(), match.end()
                value = match.group(1).upper()
            else:
                start, end = match.start(1), match.end(1)
                value = match.group(1).upper()
            out.append(
                Candidate(
                    start,
                    end,
                    1,
                    {"entity": "order_id", "value": value, "extractor": "KefuOrderIdExtractor"},
                )
            )
    return out
