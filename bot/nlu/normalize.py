"""Text normalisation shared by the classifier, the entity extractors and language detection.

Two forms are produced:

* :func:`normalize_with_map` — NFKC, lower case and character-level Traditional→Simplified
  (OpenCC ``t2s`` applied one character at a time, so the result aligns with the input), together
  with a map from every normalised character back to its index in the raw text. Entity extractors
  run on this form and report spans on the raw text.
* :func:`classifier_text` — the same, plus collapsed character repeats, digits folded to ``0`` and
  spaces between CJK and Latin runs, cut to a maximum length. Only ever used for features.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")


@cache
def _s2t() -> opencc.OpenCC:
    """The s2t converter, loaded on first use: its dictionaries cost ~0.1 s CPU at import, in
    every process that imports an entity parser (most ``kefu`` commands), used or not."""
    return opencc.OpenCC("s2t")


# Zero-width and bidi control characters carry no meaning for us; drop them.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u00ad"),
    None,
)


class _CharMap(dict[str, str]):
    """``char -> t2s(char)`` filled lazily; a single OpenCC call per distinct character."""

    def __missing__(self, char: str) -> str:
        converted = _T2S.convert(char)
        value = converted if len(converted) == 1 else char
        self[char] = value
        return value


_T2S_CHARS = _CharMap()


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """NFKC + lower case + t2s of one character (may return several characters, or none)."""
    if ord(char) in _INVISIBLE:
        return ""
    out = unicodedata.normalize("NFKC", char).lower()
    if len(out) == 1:
        return _T2S_CHARS[out]
    return "".join(_T2S_CHARS[c] for c in out)


class _T2STable(dict[int, str]):
    """``str.translate`` table ``ord -> t2s char`` filled lazily (C-speed after the first hit)."""

    def __missing__(self, code: int) -> str:
        value = _T2S_CHARS[chr(code)]
        self[code] = value
        return value


_T2S_TABLE = _T2STable()
_INVISIBLE_RE = re.compile("[" + "".join(chr(c) for c in _INVISIBLE) + "]")


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """Return the normalised text and, for each of its characters, the raw index it came from."""
    # Fast path: when NFKC and lower-casing keep the length, characters stay aligned.
    nfkc = unicodedata.normalize("NFKC", text)
    if len(nfkc) == len(text) and not _INVISIBLE_RE.search(text):
        lowered = nfkc.lower()
        if len(lowered) == len(text):
            return lowered.translate(_T2S_TABLE), list(range(len(text)))
    return _normalize_slow(text)


def _normalize_slow(text: str) -> tuple[str, list[int]]:
    """Character by character, for texts where NFKC or case folding change lengths."""
    parts: list[str] = []
    index: list[int] = []
    for i, char in enumerate(text):
        folded = (char.lower() if char.isupper() else char) if char.isascii() else _fold_char(char)
        if not folded:
            continue
        parts.append(folded)
        if len(folded) == 1:
            index.append(i)
        else:
            index.extend([i] * len(folded))
    return "".join(parts), index


def normalize(text: str) -> str:
    """NFKC, lower case, character-level Traditional→Simplified (no position map)."""
    return normalize_with_map(text)[0]


def raw_span(index: list[int], start: int, end: int, raw_len: int) -> tuple[int, int]:
    """Map a ``[start, end)`` span of normalised text back onto the raw text."""
    if not index or start >= len(index):
        return raw_len, raw_len
    raw_start = index[start]
    raw_end = index[end - 1] + 1 if end > start else raw_start
    return raw_start, raw_end


_REPEATS = re.compile(r"(.)\1{2,}", re.DOTALL)
_DIGITS = re.compile(r"\d+")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_BOUNDARY = re.compile(rf"(?<=[{_CJK}])(?=[a-z0-9])|(?<=[a-z0-9])(?=[{_CJK}])")
_SPACES = re.compile(r"\s+")


def classifier_text(text: str, max_chars: int) -> str:
    """The normalised form the intent classifier sees (features only; never shown)."""
    return fold_for_features(normalize(text[: max_chars * 2])[:max_chars])


def _punctuation_table() -> dict[int, str | None]:
    ranges = (range(0x20, 0x2E80), range(0x3000, 0x3040), range(0xFE30, 0xFF70))
    table: dict[int, str | None] = {
        code: " "
        for r in ranges
        for code in r
        if unicodedata.category(chr(code)).startswith("P") and chr(code) not in "#%@&"
    }
    for apostrophe in "'\u2019\u02bc":
        table[ord(apostrophe)] = None  # don't -> dont, one token
    return table


_PUNCTUATION = _punctuation_table()


def fold_for_features(norm: str) -> str:
    """Collapse repeats (好好好好→好好), fold digits to 0, space CJK/Latin runs apart."""
    norm = norm.translate(_PUNCTUATION)  # "broken." is the word "broken"
    norm = _REPEATS.sub(r"\1\1", norm)
    norm = _DIGITS.sub("0", norm)
    norm = _BOUNDARY.sub(" ", norm)
    return _SPACES.sub(" ", norm).strip()


def to_simplified(text: str) -> str:
    """Phrase-aware OpenCC t2s conversion of a whole text."""
    return str(_T2S.convert(text))


def to_traditional(text: str) -> str:
    """Phrase-aware OpenCC s2t conversion of a whole text."""
    return str(_s2t().convert(text))


CJK_CLASS = _CJK
