"""The channel's own texts (dialogues/telegram.yml), in Rasa responses format."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

TEXTS_FILE = "telegram.yml"
COMMANDS = ("start", "help", "mytickets", "cancel", "agent", "lang")


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class ChannelTexts:
    """Responses from ``dialogues/telegram.yml``; a variation is picked by its language slot."""

    def __init__(self, responses: dict[str, list[dict[str, Any]]], default_language: str) -> None:
        self._responses = responses
        self.default_language = default_language

    @classmethod
    def load(cls, dialogues_dir: Path, default_language: str) -> ChannelTexts:
        """Read ``telegram.yml`` from the dialogues folder (empty texts if it is missing)."""
        path = Path(dialogues_dir) / TEXTS_FILE
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            log.warning("telegram texts not found: %s", path)
            data = {}
        return cls(dict(data.get("responses") or {}), default_language)

    def __contains__(self, name: str) -> bool:
        return name in self._responses

    def text(self, name: str, language: str, **values: Any) -> str:
        """The text of response ``name`` in ``language`` (or the default), values filled in."""
        variations = self._responses.get(name) or []
        chosen: dict[str, Any] | None = None
        for lang in (language, self.default_language):
            chosen = next((v for v in variations if _language_of(v) == lang), None)
            if chosen is not None:
                break
        if chosen is None and variations:
            chosen = variations[0]
        if chosen is None:
            log.error("missing telegram response %s", name)
            return ""
        return str(chosen.get("text", "")).format_map(_Blank(values))


def _language_of(variation: dict[str, Any]) -> str | None:
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == "language":
            return str(condition.get("value"))
    return None
