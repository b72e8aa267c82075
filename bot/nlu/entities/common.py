"""What every entity extractor shares: scan limits, Chinese numbers, candidates and spans."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Entities scan at most this many characters of a message: enough for any real message, and it
# bounds the worst case on pathological input.
ENTITY_SCAN_CHARS = 2000
# No real message holds more phone numbers, dates or flats than this; the cap bounds the cost of
# expensive parsing (phonenumbers, date arithmetic) on junk.
MAX_PER_KIND = 20

CN_DIGITS = "零〇一二两三四五六七八九十"
CN_NUM = f"[{CN_DIGITS}百千万亿点壹贰叁肆伍陆柒捌玖拾佰仟]+"
CN_SMALL = f"[{CN_DIGITS}]{{1,3}}"


@lru_cache(maxsize=2048)
def cn_number(text: str) -> float | None:
    """``一千五百`` → 1500.0, ``三点五`` → 3.5, ``15`` → 15.0; None if not a number."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        pass
    import cn2an  # here: ~0.2 s CPU at import, for the rare number written in Chinese

    try:
        return float(cn2an.cn2an(text, "smart"))
    except Exception:  # cn2an raises ValueError and friends on odd input
        return None


def cn_int(text: str | None) -> int | None:
    if text is None:
        return None
    value = cn_number(text)
    if value is None or value != int(value):
        return None
    return int(value)


class Spans:
    """Which characters are already taken by a kept match (linear, not pairwise, overlap test)."""

    def __init__(self) -> None:
        self.taken = bytearray()

    def claim(self, start: int, end: int) -> bool:
        """Take ``[start, end)`` if none of it is taken; return whether it was free."""
        if end > len(self.taken):
            self.taken.extend(bytes(end - len(self.taken)))
        if self.taken.find(1, start, end) != -1:
            return False
        self.taken[start:end] = b"\x01" * (end - start)
        return True


@dataclass
class Candidate:
    start: int
    end: int
    priority: int
    entity: dict[str, Any]


def alternation(keys: Iterable[str]) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
