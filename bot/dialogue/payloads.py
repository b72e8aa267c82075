"""Commands (``/mytickets``) and button payloads (``/inform{"unit": "..."}``), Rasa style."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Rasa's RegexInterpreter shape: /intent{"entity": "value"}
_PAYLOAD = re.compile(
    r"^/(?P<intent>[A-Za-z_][\w/]*)(?:@[\w]+)?\s*(?P<json>\{.*\})?\s*(?P<rest>.*)$", re.S
)

#: Slash commands users type, mapped to the intent they stand for.
COMMANDS: dict[str, str] = {
    "start": "start",
    "help": "help",
    "mytickets": "my_tickets",
    "my_tickets": "my_tickets",
    "cancel": "cancel",
    "agent": "human",
    "human": "human",
    "lang": "choose_language",
    "language": "choose_language",
}


@dataclass
class Payload:
    """A parsed command or button payload."""

    intent: str
    entities: dict[str, Any] = field(default_factory=dict)
    rest: str = ""
    known: bool = True


def parse_payload(text: str, known_intents: set[str]) -> Payload | None:
    """Parse ``/intent{json}`` or ``/command args``; ``None`` if ``text`` is not one."""
    if not text.startswith("/"):
        return None
    match = _PAYLOAD.match(text.strip())
    if not match:
        return Payload(intent="unknown_command", known=False)
    name = match.group("intent")
    entities: dict[str, Any] = {}
    if match.group("json"):
        try:
            data = json.loads(match.group("json"))
            if isinstance(data, dict):
                entities = data
        except json.JSONDecodeError:
            return Payload(intent="unknown_command", known=False)
    intent = COMMANDS.get(name.lower(), name)
    if intent not in known_intents:
        return Payload(intent="unknown_command", rest=name, known=False)
    return Payload(intent=intent, entities=entities, rest=match.group("rest").strip())


def to_entities(entities: dict[str, Any]) -> list[dict[str, Any]]:
    """Payload values in the NLU's entity shape (no positions: they came from a button)."""
    return [{"entity": k, "value": v, "extractor": "payload"} for k, v in entities.items()]
