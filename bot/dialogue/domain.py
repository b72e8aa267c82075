"""Loading ``dialogues/``: the Rasa domain (intents, entities, slots, forms, responses) and rules.

Every ``*.yml`` file under the folder is read and merged, as Rasa does with a data directory, so
features can keep their responses in files of their own (``faq.yml``, ``telegram.yml``...).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# libyaml when PyYAML has it (ten times faster on the training data), else pure Python.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LIST_KEYS = ("intents", "entities", "actions", "nlu", "rules", "stories")
DICT_KEYS = ("slots", "forms", "responses", "session_config")


class DomainError(Exception):
    """``dialogues/`` is invalid; the message names the file and the problem."""


@dataclass
class Domain:
    """The merged contents of ``dialogues/``."""

    intents: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    digest: str = ""

    def required_slots(self, form: str) -> list[str]:
        return list(self.forms.get(form, {}).get("required_slots", []))

    def intent_rules(self) -> dict[str, list[str]]:
        """Single-turn rules: intent -> the actions that follow it (forms included)."""
        out: dict[str, list[str]] = {}
        for rule in self.rules:
            steps = rule.get("steps", [])
            if not steps or "intent" not in steps[0] or rule.get("condition"):
                continue
            actions = [s["action"] for s in steps[1:] if "action" in s]
            out.setdefault(steps[0]["intent"], actions)
        return out

    def entity_rules(self) -> list[tuple[str, frozenset[str] | None, list[str]]]:
        """Rules whose first step names entities and no intent: a message carrying one of those
        entities goes to the rule's actions whatever its intent (a ticket number is about that
        ticket, whether the words around it read as a repair, a goodbye or a question), or only
        when its intent is one of the step's ``intents``. Each is (entity, intents, actions)."""
        out: list[tuple[str, frozenset[str] | None, list[str]]] = []
        for rule in self.rules:
            steps = rule.get("steps", [])
            if not steps or "intent" in steps[0] or rule.get("condition"):
                continue
            intents = steps[0].get("intents")
            only = frozenset(str(i) for i in intents) if intents else None
            actions = [s["action"] for s in steps[1:] if "action" in s]
            out += [(str(entity), only, actions) for entity in steps[0].get("entities") or []]
        return out

    def as_rasa_dict(self) -> dict[str, Any]:
        """The domain as the Rasa action server receives it."""
        return {
            "version": "3.1",
            "intents": self.intents,
            "entities": self.entities,
            "slots": self.slots,
            "forms": self.forms,
            "responses": self.responses,
            "actions": self.actions,
        }


def load_domain(folder: Path) -> Domain:
    """Read and merge every YAML file under ``folder``."""
    if not folder.is_dir():
        raise DomainError(f"dialogues folder not found: {folder}")
    merged: dict[str, Any] = {k: [] for k in LIST_KEYS} | {k: {} for k in DICT_KEYS}
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.yml")) + sorted(folder.rglob("*.yaml")):
        raw = path.read_bytes()
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + raw)
        try:
            data = yaml.load(raw, Loader=_LOADER) or {}
        except yaml.YAMLError as exc:
            raise DomainError(f"{path}: invalid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise DomainError(f"{path}: top level must be a mapping")
        for key in LIST_KEYS:
            merged[key].extend(data.get(key) or [])
        for key in DICT_KEYS:
            for name, value in (data.get(key) or {}).items():
                if key == "responses" and name in merged[key]:
                    merged[key][name].extend(value)
                else:
                    merged[key][name] = value
    intents = [i if isinstance(i, str) else next(iter(i)) for i in merged["intents"]]
    return Domain(
        intents=intents,
        entities=[e if isinstance(e, str) else next(iter(e)) for e in merged["entities"]],
        slots=merged["slots"],
        forms=merged["forms"],
        responses=merged["responses"],
        actions=merged["actions"],
        rules=merged["rules"],
        digest=digest.hexdigest(),
    )
