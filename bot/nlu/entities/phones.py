"""Phone numbers (Hong Kong by default, any region with a + prefix), as E.164."""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

import phonenumbers

from bot.nlu.entities.common import MAX_PER_KIND, Candidate
from bot.nlu.normalize import normalize

_PHONE_CANDIDATE = re.compile(r"(?<![\da-z+#\-])\+?\(?\d[\d\s\-()]{5,20}\d(?![\da-z])")
_DIGIT = re.compile(r"\d")


def parse_phone(text: str, region: str = "HK") -> str | None:
    """Parse one phone number (HK/CN/TW or international) into E.164, or None if not valid."""
    if not isinstance(text, str) or not isinstance(region, str):
        return None
    return _parse_phone(text[:64], region)


@lru_cache(maxsize=2048)
def _parse_phone(text: str, region: str) -> str | None:
    candidate = normalize(text[:64]).strip()
    digits = "".join(_DIGIT.findall(candidate))
    if not 7 <= len(digits) <= 16:
        return None
    attempts: list[tuple[str, str | None]] = []
    if candidate.startswith("+") or candidate.startswith("00"):
        attempts.append((candidate, None))
    else:
        seen: list[str] = []
        for r in (region.upper() if region else "HK", "HK", "CN", "TW"):
            if r not in seen:
                seen.append(r)
                attempts.append((candidate, r))
        attempts.append(("+" + digits, None))
    for number, reg in attempts:
        try:
            parsed = phonenumbers.parse(number, reg)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return None


def find_phones(norm: str, region: str) -> list[Candidate]:
    out: list[Candidate] = []
    for match in itertools.islice(_PHONE_CANDIDATE.finditer(norm), MAX_PER_KIND):
        raw = match.group(0)
        value = parse_phone(raw, region)
        if value is None:
            continue
        out.append(
            Candidate(
                match.start(),
                match.end(),
                5,
                {"entity": "phone", "value": value, "extractor": "KefuPhoneExtractor"},
            )
        )
    return out
