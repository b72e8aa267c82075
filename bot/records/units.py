"""Units in the records, read with the NLU's own unit parser so chat and registry agree."""

from __future__ import annotations

from dataclasses import dataclass
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
    parts = parse_unit(text) if text and text.strip() else None
    if not parts:
        return None
    key = unit_key(parts)
    if not key:
        return None
    return Unit(key=key, parts=dict(parts), display=format_unit(parts, language))


def show_unit(parts: dict[str, Any] | None, fallback: str, language: str) -> str:
    """The unit in ``language``; ``fallback`` (the stored display) when parts are missing."""
    if not parts:
        return fallback
    try:
        return format_unit(parts, language)
    except (KeyError, TypeError, ValueError):
        return fallback
