"""The schema of the YAML conversation transcripts in tests/conversations/.

A transcript is a specification: a misspelt key (``bto:`` for ``bot:``) used to make its step
check nothing, and the transcript passed. Every mapping here forbids unknown keys, a step does
exactly one thing (``user``, ``press``, ``restart``, ``advance``, ``staff`` or ``wait``), and
expectations name
fields that exist, so a mistake fails the transcript with the file, the step and the key.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.config import Settings, parse_duration
from bot.store.models import Conversation, Ticket

# Fragments may be written as YAML numbers (``bot_not: 1502``); they are compared as text.
Scalar = str | int | float
Fragments = Scalar | list[Scalar]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Step(_Strict):
    """One thing the user (or time) does, and what Kefu's replies must then show."""

    user: Scalar | None = None
    press: int | str | list[str] | None = None
    restart: Literal[True] | None = None
    advance: str | None = None
    # A ``kefu`` command line a member of staff runs (``staff resolve C-… --outcome …``); its
    # output and what the customer is then sent are the step's replies.
    staff: str | None = None
    # Time passes and the follow-up worker runs (surveys, outcomes): what it sends are replies.
    wait: str | None = None
    speaker: Scalar | None = Field(default=None, alias="as")
    phone: str | None = None
    bot: Fragments | None = None
    bot_not: Fragments | None = None
    bot_any: Fragments | None = None
    first: Fragments | None = None
    buttons: Fragments | None = None
    replies: int | None = None

    @field_validator("advance", "wait")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = self.model_fields_set
        actions = [
            name
            for name in ("user", "press", "restart", "advance", "staff", "wait")
            if name in given
        ]
        if len(actions) != 1:
            raise ValueError(
                "a step does exactly one of user/press/restart/advance/staff/wait, "
                f"not {actions or 'none'}"
            )
        if actions == ["advance"]:
            extra = sorted(
                "as" if name == "speaker" else name for name in self.model_fields_set - {"advance"}
            )
            if extra:
                raise ValueError(f"an advance step sends nothing, so {extra} would check nothing")
        if "phone" in self.model_fields_set and actions[0] not in ("user", "press"):
            raise ValueError("phone goes with a message (user or press)")
        return self


class Messages(_Strict):
    inbound: int | None = None
    all_sent: Literal[True] | None = None
    longest_inbound: int | None = None


def _check_fields(
    fields: dict[str, Any], model: type, prefixes: tuple[str, ...], also: frozenset[str]
) -> None:
    """Every key names an attribute of ``model``, one of ``also``, or starts with a prefix."""
    for key in fields:
        if key not in also and not key.startswith(prefixes) and not hasattr(model, key):
            raise ValueError(f"{model.__name__} has no field {key!r}")


TicketFields = dict[str, Any]
ConversationFields = dict[str, Any]


class Expect(_Strict):
    """What the database holds at the end."""

    tickets: list[TicketFields] | None = None
    conversation: ConversationFields | None = None
    conversations: dict[str, ConversationFields] | None = None
    messages: Messages | None = None

    @field_validator("tickets")
    @classmethod
    def _ticket_fields(cls, value: list[TicketFields] | None) -> list[TicketFields] | None:
        for fields in value or []:
            _check_fields(fields, Ticket, ("details.",), frozenset({"contact"}))
        return value

    @field_validator("conversation")
    @classmethod
    def _conversation_fields(cls, value: ConversationFields | None) -> ConversationFields | None:
        _check_fields(value or {}, Conversation, ("slots.", "state."), frozenset())
        return value

    @field_validator("conversations")
    @classmethod
    def _other_conversations(
        cls, value: dict[str, ConversationFields] | None
    ) -> dict[str, ConversationFields] | None:
        for fields in (value or {}).values():
            _check_fields(fields, Conversation, ("slots.", "state."), frozenset())
        return value


class Transcript(_Strict):
    name: str
    user: Scalar = "u1"
    now: str | None = None
    settings: dict[str, Any] | None = None
    # Registers imported before the first step (CSV text per kind).
    records: dict[Literal["residents", "orders", "fees"], str] | None = None
    xfail: str | dict[Literal["sqlite", "postgres"], str] | None = None
    steps: list[Step] = Field(min_length=1)
    expect: Expect | None = None

    @field_validator("now")
    @classmethod
    def _aware_time(cls, value: str | None) -> str | None:
        if value is not None and datetime.fromisoformat(value).tzinfo is None:
            raise ValueError("now needs a UTC offset (e.g. 2026-11-27T10:00:00+08:00)")
        return value

    @field_validator("settings")
    @classmethod
    def _known_settings(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        unknown = sorted(set(value or {}) - set(Settings.model_fields))
        if unknown:
            raise ValueError(f"no such settings: {unknown}")
        return value


class TranscriptError(AssertionError):
    """A transcript that does not follow the schema (raised as a test failure)."""


def load_transcript(path: Path) -> dict[str, Any]:
    """Read a transcript and check it against :class:`Transcript`; returns the plain mapping."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster
    spec = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    if not isinstance(spec, dict):
        raise TranscriptError(f"{path.name}: a transcript is a mapping, not {type(spec).__name__}")
    try:
        Transcript.model_validate(spec)
    except ValidationError as exc:
        problems = "\n".join(_describe(spec, error) for error in exc.errors())
        raise TranscriptError(
            f"{path.name} does not follow the transcript schema:\n{problems}"
        ) from None
    return spec


def _describe(spec: dict[str, Any], error: Any) -> str:
    where = list(error["loc"])
    if len(where) >= 2 and where[0] == "steps" and isinstance(where[1], int):
        place = f"step {where[1] + 1} {spec['steps'][where[1]]!r}"
        rest = where[2:]
    else:
        place, rest = "", where
    key = ".".join(str(part) for part in rest)
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    return f"  {place}{' ' if place and key else ''}{key}: {message}"
