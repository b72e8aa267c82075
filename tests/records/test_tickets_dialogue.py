"""dialogues/tickets.yml: every response in three languages with the same placeholders and the
same number of buttons, and every response the existing-ticket actions name is there."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TICKETS = ROOT / "dialogues" / "tickets.yml"
LANGUAGES = {"zh-Hant", "zh-Hans", "en"}


def responses() -> dict[str, list[dict[str, Any]]]:
    return dict(yaml.safe_load(TICKETS.read_text(encoding="utf-8"))["responses"])


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_response_has_three_languages_and_same_placeholders() -> None:
    for name, variations in responses().items():
        languages = [c["value"] for v in variations for c in v["condition"]]
        assert sorted(languages) == sorted(LANGUAGES), name
        assert len({frozenset(placeholders(v["text"])) for v in variations}) == 1, name
        assert len({len(v.get("buttons") or []) for v in variations}) == 1, name


def test_the_actions_name_only_responses_that_exist() -> None:
    names = set(responses())
    source = (ROOT / "bot" / "actions" / "ticket_status.py").read_text(encoding="utf-8")
    used = set(re.findall(r'response="(utter_\w+)"', source)) | {"utter_ticket_button"}
    assert used and used <= names, used - names
