"""The report's texts, read from ``dialogues/reports.yml`` in one language.

The reports sit below the dialogue layer, so they read the file themselves (the same Rasa
response format every dialogue file uses) instead of going through the engine's responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FILE = "reports.yml"


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Labels:
    """``labels("opened", count=3)`` -> 「期內新單：3」."""

    language: str
    texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, dialogues_dir: Path, language: str) -> Labels:
        """The texts of ``language`` (the key itself stands in for a missing text)."""
        path = Path(dialogues_dir) / FILE
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
        texts: dict[str, str] = {}
        for name, variants in ((data or {}).get("responses") or {}).items():
            for variant in variants or []:
                values = {c.get("value") for c in variant.get("condition") or []}
                if language in values:
                    texts[str(name).removeprefix("utter_report_")] = str(variant.get("text", ""))
        return cls(language, texts)

    def __call__(self, key: str, /, **values: Any) -> str:
        return self.texts.get(key, key).format_map(_Blank(values))

    def cause(self, branch: str) -> str:
        """A fishbone branch (人 機 料 法 環) in this language."""
        return self(f"cause_{branch}") if f"cause_{branch}" in self.texts else branch

    def building(self, block: str) -> str:
        return self("building", block=block)
