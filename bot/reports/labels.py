"""The report's texts, read from ``dialogues/reports.yml`` in one language, and the names of
ticket kinds (``utter_ticket_kind_*``), categories (``utter_<kind>_category_*``) and the owner
evaluation's areas (``utter_evaluation_area_*``) from wherever the dialogues define them, so a
new kind's name shows up by itself.

The reports sit below the dialogue layer, so they read the files themselves (the same Rasa
response format every dialogue file uses) instead of going through the engine's responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


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
        """The texts of ``language`` (the key itself stands in for a missing text).

        Every report page, download and scheduled report asks for them; reading all the
        dialogue files (half a megabyte of YAML) took about a second each time, so the texts
        are kept while the files are unchanged (same names, sizes and modification times).
        """
        folder = Path(dialogues_dir)
        paths = sorted(folder.glob("*.yml")) if folder.is_dir() else []
        key = (str(folder), language, *_signature(paths))
        texts = _LOADED.get(key)
        if texts is None:
            texts = _read(paths, language)
            if len(_LOADED) > 16:
                _LOADED.clear()
            _LOADED[key] = texts
        return cls(language, dict(texts))

    def __call__(self, key: str, /, **values: Any) -> str:
        return self.texts.get(key, key).format_map(_Blank(values))

    def cause(self, branch: str) -> str:
        """A fishbone branch (人 機 料 法 環) in this language."""
        return self(f"cause_{branch}") if f"cause_{branch}" in self.texts else branch

    def building(self, block: str) -> str:
        return self("building", block=block)

    def status(self, status: str) -> str:
        """A ticket status's name (the status itself when unnamed)."""
        return self.texts.get(f"status_{status}", status)

    def kind(self, kind: str) -> str:
        """A ticket kind's name (the kind itself when the dialogues name none)."""
        return self.texts.get(f"kind:{kind}", kind)

    def category(self, kind: str, category: str) -> str:
        """A category's name for tickets of ``kind`` (the category itself when unnamed)."""
        return self.texts.get(f"category:{kind}:{category}", category)


_LOADED: dict[tuple[object, ...], dict[str, str]] = {}


def _signature(paths: list[Path]) -> list[tuple[str, int, int]]:
    out = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((str(path), stat.st_size, stat.st_mtime_ns))
    return out


def _read(paths: list[Path], language: str) -> dict[str, str]:
    """The label texts of ``language`` in ``paths`` (libyaml's parser: ten times faster)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    texts: dict[str, str] = {}
    for path in paths:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
        except (OSError, yaml.YAMLError):
            continue  # the dialogue engine reports a broken file; a report carries on
        responses = data.get("responses") if isinstance(data, dict) else None
        for name, variants in (responses or {}).items():
            key = _key(str(name))
            if key is None:
                continue
            for variant in variants or []:
                values = {c.get("value") for c in variant.get("condition") or []}
                if language in values and "text" in variant:
                    texts[key] = str(variant["text"])
    return texts


def _key(name: str) -> str | None:
    """The label key a response feeds, or None for a response the report does not use."""
    if name.startswith("utter_report_"):
        return name.removeprefix("utter_report_")
    if name.startswith("utter_evaluation_area_"):
        return "area:" + name.removeprefix("utter_evaluation_area_")
    if name.startswith("utter_ticket_kind_"):
        return "kind:" + name.removeprefix("utter_ticket_kind_")
    kind, sep, category = name.removeprefix("utter_").partition("_category_")
    if name.startswith("utter_") and sep and kind and category:
        return f"category:{kind}:{category}"
    return None
