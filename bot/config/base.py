"""What every settings section shares: the base model, bounded types and value parsers.

Each feature's section lives in its own module beside this one (``bot.config.nlu``,
``bot.config.sla`` ...); ``bot.config`` composes them into :class:`~bot.config.Settings`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["zh-Hant", "zh-Hans", "en"]
LANGUAGES: tuple[str, ...] = ("zh-Hant", "zh-Hans", "en")

# Bounds: a ratio, fraction or probability is in [0, 1]; counts and sizes are at least 1.
Fraction = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=1)]
Port = Annotated[int, Field(ge=1, le=65535)]
# A port this process listens on: 0 asks the system for any free one (tests, side-by-side runs).
ListenPort = Annotated[int, Field(ge=0, le=65535)]


class ConfigError(Exception):
    """The settings are invalid; the message is one line that names the key."""


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, so typos are caught at start."""

    model_config = ConfigDict(extra="forbid")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Parse ``90s``, ``15m``, ``2h``, ``3d``, ``1w`` or a number of seconds into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 2h, 3d)")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit or "s"])


def parse_size(value: Any) -> int:
    """``20MB``, ``512KB``, ``1GB`` or a number of bytes."""
    if isinstance(value, int):
        return value
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*$", str(value), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 20MB, 512KB)")
    unit = match.group(2).upper().rstrip("B")
    return int(float(match.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[unit])


def one_or_many(value: Any) -> Any:
    """Let a single string stand for a list of one (``kind: repair``)."""
    return [value] if isinstance(value, str) else value
