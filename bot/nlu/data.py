"""Reading Rasa 3.x NLU training data (``nlu:`` sections of every YAML file under a folder)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Bump when features or training change so that existing models count as stale.
FEATURE_VERSION = "kefu-nlu-6"

# libyaml's safe loader is ~10x faster than the pure-Python one; data loads at every start.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ANNOTATION = re.compile(r"\[([^\[\]]+)\](?:\([^()]*\)|\{[^{}]*\})")


class DataError(Exception):
    """The training or test data cannot be read; the message names the file."""


@dataclass
class TrainingData:
    """Intent examples, retrieval-intent examples and keyword lookups merged from all files.

    ``hazards`` maps an example's text to the hazard its ``metadata: {emergency: ...}`` names
    (``none`` for an explicit non-emergency); it trains the emergency detector.
    """

    examples: list[tuple[str, str]] = field(default_factory=list)
    responses: list[tuple[str, str]] = field(default_factory=list)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    hazards: dict[str, str] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        """Sorted intent names seen in the data."""
        return sorted({intent for _, intent in self.examples})

    def fingerprint(self) -> str:
        """sha256 over the parsed content (not the file bytes: comments do not matter)."""
        payload = json.dumps(
            {
                "version": FEATURE_VERSION,
                "examples": sorted(self.examples),
                "responses": sorted(self.responses),
                "lookups": {k: sorted(v) for k, v in sorted(self.lookups.items())},
                "hazards": sorted(self.hazards.items()),
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def strip_annotations(text: str) -> str:
    """``[3棟2單元1502室](unit)`` → ``3棟2單元1502室`` (Rasa inline entity annotations)."""
    return _ANNOTATION.sub(r"\1", text)


def annotated_entities(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the plain text and the annotated entities with spans on that text."""
    plain: list[str] = []
    entities: list[dict[str, Any]] = []
    pos = 0
    length = 0
    for match in re.finditer(r"\[([^\[\]]+)\]\(([^()]*)\)", text):
        plain.append(text[pos : match.start()])
        length += match.start() - pos
        value = match.group(1)
        name = match.group(2).split(":", 1)[0].strip()
        entities.append(
            {"entity": name, "value": value, "start": length, "end": length + len(value)}
        )
        plain.append(value)
        length += len(value)
        pos = match.end()
    plain.append(text[pos:])
    return strip_annotations("".join(plain)), entities


def _hazard(metadata: Any) -> str | None:
    """The ``emergency`` named by Rasa ``metadata`` (block or example level), if any."""
    if isinstance(metadata, dict) and metadata.get("emergency") is not None:
        return str(metadata["emergency"]).strip() or None
    return None


def _example_lines(block: Any) -> list[str]:
    return [line for line, _ in _examples_with_hazard(block)]


def _examples_with_hazard(block: Any) -> list[tuple[str, str | None]]:
    if isinstance(block, list):
        out: list[tuple[str, str | None]] = []
        for item in block:
            text = str(item.get("text", "")) if isinstance(item, dict) else str(item)
            hazard = _hazard(item.get("metadata")) if isinstance(item, dict) else None
            if text.strip():
                out.append((text.strip(), hazard))
        return out
    return [(line, None) for line in _block_lines(block)]


def _block_lines(block: Any) -> list[str]:
    if not isinstance(block, str):
        return []
    out: list[str] = []
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("- "):
            line = line[2:].strip()
        elif line == "-":
            continue
        if line:
            out.append(line)
    return out


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise DataError(f"{path}{where}: invalid YAML") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def add_nlu_items(data: TrainingData, items: Any, source: Path) -> None:
    """Merge one file's ``nlu:`` list into ``data``."""
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        if "intent" in item:
            name = str(item["intent"]).strip()
            if not name:
                continue
            base = name.split("/", 1)[0]
            block_hazard = _hazard(item.get("metadata"))
            for line, hazard in _examples_with_hazard(item.get("examples")):
                text = strip_annotations(line)
                data.examples.append((text, base))
                if "/" in name:
                    data.responses.append((text, name))
                if hazard or block_hazard:
                    data.hazards[text] = hazard or block_hazard or ""
        elif "lookup" in item:
            examples = _example_lines(item.get("examples"))
            name = str(item["lookup"]).strip()
            data.lookups.setdefault(name, []).extend(examples)
        # synonym / regex entries are accepted and ignored.


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yml", ".yaml"} and p.is_file())


def source_digest(folder: Path) -> str | None:
    """sha256 over the bytes (and relative names) of every data file, or None if unreadable.

    A cheap key for "these are the very files a model was trained on": reading bytes takes
    milliseconds where parsing them for :meth:`TrainingData.fingerprint` takes most of a
    second, at every start of every process. Any byte changed (a comment too) gives a new key,
    and the caller falls back to parsing and the fingerprint, which decides.
    """
    digest = hashlib.sha256(FEATURE_VERSION.encode())
    try:
        for path in _data_files(folder):
            content = path.read_bytes()
            digest.update(f"\0{path.relative_to(folder)}\0{len(content)}\0".encode())
            digest.update(content)
    except OSError:
        return None
    return digest.hexdigest()


def load_training_data(folder: Path) -> TrainingData:
    """Merge the ``nlu:`` lists of every ``*.yml``/``*.yaml`` under ``folder`` (recursively)."""
    data = TrainingData()
    if not folder.is_dir():
        raise DataError(f"{folder}: training data folder not found")
    for path in _data_files(folder):
        content = _read_yaml(path)
        if isinstance(content, dict) and "nlu" in content:
            data.files.append(path)
            add_nlu_items(data, content["nlu"], path)
    return data


def load_labelled_file(path: Path) -> list[tuple[str, str]]:
    """Read labelled data: Rasa ``nlu.yml`` or TSV ``text<TAB>intent`` (``inquiry/x`` → inquiry)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.suffix in {".yml", ".yaml"}:
        content = _read_yaml(path)
        data = TrainingData()
        if isinstance(content, dict):
            add_nlu_items(data, content.get("nlu"), path)
        return data.examples
    rows: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 2 or not row[0].strip() or row[0].startswith("#"):
                continue
            if row[0] == "text" and row[1] == "intent":
                continue
            rows.append((row[0], row[1].strip().split("/", 1)[0]))
    return rows
