"""Reply-language detection by script: Traditional Chinese, Simplified Chinese or English."""

from __future__ import annotations

import re
import unicodedata

from bot.nlu.normalize import CJK_CLASS, to_simplified, to_traditional

# Cantonese-only characters: written Cantonese is Hong Kong usage, so they mean Traditional.
CANTONESE_CHARS = frozenset(
    "咗冇嘅喺啲嘢唔佢哋乜咩嚟嗰嘥揾攞睇諗冚瞓𨋢咁噉囉喎嘞咋㗎嚿攰嬲揸啱餸畀"
)
# Characters that s2t changes but which are also ordinary Traditional characters (只有, 裡面,
# 皇后, 關係...); they are no evidence of Simplified script.
_AMBIGUOUS_SIMPLIFIED = frozenset(
    "只面干里后系台丑冲谷制云范松准余斗才表向征周困卷回布占朴凶吊夸姜须借"
)
_CJK_RE = re.compile(f"[{CJK_CLASS}]")
_LATIN_RE = re.compile(r"[A-Za-z]{2,}")
# Scanning a few hundred characters is plenty to decide the script.
_SCAN = 400


def script_counts(text: str) -> tuple[int, int, int]:
    """Return (traditional, simplified, cjk) character counts for ``text``."""
    sample = unicodedata.normalize("NFKC", text[:_SCAN])
    cjk = len(_CJK_RE.findall(sample))
    if not cjk:
        return 0, 0, 0
    trad = sum(1 for c in sample if c in CANTONESE_CHARS)
    simp = 0
    as_simplified = to_simplified(sample)
    as_traditional = to_traditional(sample)
    if len(as_simplified) == len(sample):
        trad += sum(1 for a, b in zip(sample, as_simplified, strict=True) if a != b)
    if len(as_traditional) == len(sample):
        simp += sum(
            1
            for a, b in zip(sample, as_traditional, strict=True)
            if a != b and a not in _AMBIGUOUS_SIMPLIFIED
        )
    return trad, simp, cjk


def detect_language(text: str) -> str | None:
    """Return ``"zh-Hant"``, ``"zh-Hans"``, ``"en"`` or ``None`` when the script is undecided.

    A text with characters that OpenCC's t2s changes (or Cantonese-only characters) is
    Traditional; one whose characters s2t changes is Simplified; the majority wins. Chinese text
    made only of characters common to both scripts, or digits/emoji/punctuation, is undecided.
    Latin text without Chinese characters is English, and so is text with more English words
    (two at least) than Chinese characters.
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        trad, simp, cjk = script_counts(text)
    except Exception:  # never let detection break a parse
        return None
    latin = len(_LATIN_RE.findall(text[:_SCAN]))
    if cjk and latin >= 2 and latin > cjk:
        # An English sentence with a Chinese word in it ("my 冷氣 is broken") is English.
        return "en"
    if cjk:
        if trad > simp:
            return "zh-Hant"
        if simp > trad:
            return "zh-Hans"
        return None
    if latin:
        return "en"
    return None
