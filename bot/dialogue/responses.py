"""Rendering responses from ``dialogues/`` in the user's language.

Responses use Rasa's format; each variation carries a ``condition`` on the ``language`` slot.
Two small conventions keep every word in ``dialogues/``:

* a button title or a template value of the form ``@utter_name`` is replaced by that response's
  text in the same language (e.g. category names inside a summary), and a value
  ``{"response": "utter_name", "values": {...}}`` by that response filled with those values
  (e.g. a date in the user's language); a list of such values becomes one line each;
* ``{name}`` placeholders are filled from the slots and the values the action passed; a missing
  value leaves the placeholder visible rather than failing.
"""

from __future__ import annotations

import logging
import string
from typing import Any

from bot.messages import Attachment, Button, OutboundMessage

log = logging.getLogger(__name__)

FALLBACK_RESPONSE = "utter_internal_error"


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_FORMATTER = string.Formatter()


class Responses:
    """All responses of the domain, rendered per language."""

    def __init__(self, responses: dict[str, list[dict[str, Any]]], default_language: str) -> None:
        self._responses = responses
        self.default_language = default_language

    def __contains__(self, name: str) -> bool:
        return name in self._responses

    def variation(self, name: str, language: str) -> dict[str, Any] | None:
        """The variation of ``name`` for ``language`` (then the default language, then any)."""
        variations = self._responses.get(name)
        if not variations:
            return None
        for lang in (language, self.default_language):
            for v in variations:
                if _language_of(v) == lang:
                    return v
        for v in variations:
            if _language_of(v) is None:
                return v
        return variations[0]

    def text(self, name: str, language: str, values: dict[str, Any] | None = None) -> str:
        """The text of response ``name`` filled with ``values`` ('' if there is none)."""
        v = self.variation(name, language)
        if v is None:
            log.error("missing response %s", name)
            return ""
        return self.fill(v.get("text", ""), language, values or {})

    def fill(self, template: str, language: str, values: dict[str, Any]) -> str:
        resolved = _SafeDict()
        for key, value in values.items():
            resolved[key] = self._resolve(value, language)
        try:
            return _FORMATTER.vformat(template, (), resolved)
        except (ValueError, IndexError, KeyError, AttributeError):
            log.error("cannot fill template %r", template)
            return template

    def _resolve(self, value: Any, language: str) -> Any:
        if isinstance(value, str) and value.startswith("@utter_"):
            return self.text(value[1:], language)
        if isinstance(value, dict) and "response" in value:
            return self.text(str(value["response"]), language, value.get("values") or {})
        if isinstance(value, list):
            return "\n".join(str(self._resolve(item, language)) for item in value)
        if value is None:
            return ""
        return value

    def render(
        self, name: str, language: str, values: dict[str, Any] | None = None
    ) -> OutboundMessage | None:
        """Response ``name`` as an outbound message, or ``None`` if it does not exist."""
        v = self.variation(name, language)
        if v is None:
            log.error("missing response %s", name)
            return None
        return self.build(v, language, values or {})

    def build(
        self,
        message: dict[str, Any],
        language: str,
        values: dict[str, Any],
        extra_buttons: list[dict[str, Any]] | None = None,
    ) -> OutboundMessage:
        """An outbound message from a response variation or an action's message dict."""
        text = self.fill(message.get("text") or "", language, values)
        buttons = []
        for b in list(message.get("buttons") or []) + list(extra_buttons or []):
            title = self.fill(str(self._resolve(b.get("title", ""), language)), language, values)
            payload = str(b.get("payload", ""))
            buttons.append(Button(title=title, payload=payload))
        images: tuple[Attachment, ...] = ()
        if message.get("image"):
            images = (Attachment(kind="image", url=str(message["image"])),)
        return OutboundMessage(
            text=text,
            buttons=tuple(buttons),
            images=images,
            request_contact=bool((message.get("custom") or {}).get("request_contact")),
        )


def _language_of(variation: dict[str, Any]) -> str | None:
    for cond in variation.get("condition") or []:
        if cond.get("type") == "slot" and cond.get("name") == "language":
            return str(cond.get("value"))
    return None
