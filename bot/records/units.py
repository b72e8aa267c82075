"""Units in the records, read with the NLU's own unit parser so chat and registry agree."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.nlu.entities import format_unit, parse_unit, unit_key


@dataclass(frozen=True, slots=True)
class Unit:
    """A parsed unit: its comparable key, its parts, and how it reads in one language."""

    key: str
    parts: dict[str, Any]
    display: str


def read_unit(text: str, language: str) -> Unit | None:
    """Parse free unit text (「3棟2單元1502室」, "Block 3 Unit 2 Rm 1502"); None if unreadable."""
    cached = _read_unit(text.strip() if text else "", language)
    if cached is None:
        return None
    key, parts, display = cached
    return Unit(key=key, parts=dict(parts), display=display)


@lru_cache(maxsize=4096)
def _read_unit(text: str, language: str) -> tuple[str, tuple[tuple[str, Any], ...], str] | None:
    # Import files repeat each unit on many rows (one per fee item): parse each spelling once.
    parts = parse_unit(text) if text else None
    if not parts:
        return None
    key = unit_key(parts)
    if not key:
        return None
    return key, tuple(parts.items()), format_unit(parts, language)


def show_unit(parts: dict[str, Any] | None, fallback: str, language: str) -> str:
    """The unit in ``language``; ``fallback`` (the stored display) when parts are missing."""
    if not parts:
        return fallback
    try:
        return format_unit(parts, language)
    except (KeyError, TypeError, ValueError):
        return fallback
