"""Invariants of the FAQ data in dialogues/faq.yml (Rasa 3.x retrieval intents).

Every FAQ topic ``inquiry/<key>`` must have NLU examples in all three scripts and a response
``utter_inquiry/<key>`` with exactly one variant per language condition, and vice versa.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import opencc
import pytest
import yaml

FAQ_PATH = Path(__file__).resolve().parent.parent / "dialogues" / "faq.yml"
LANGUAGES = ("zh-Hant", "zh-Hans", "en")
MIN_TOPICS = 25
MIN_EXAMPLES_PER_SCRIPT = 8

_CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]")
_CANTONESE = set("咗冇嘅喺啲嘢唔佢哋乜咩嚟")
_T2S = opencc.OpenCC("t2s")
_S2T = opencc.OpenCC("s2t")


def _fallback_detect_language(text: str) -> str | None:
    """Script of ``text``: zh-Hant, zh-Hans, en, or None when undecided (used until bot.nlu)."""
    if not _CJK.search(text):
        return "en" if re.search(r"[A-Za-z]", text) else None
    if _T2S.convert(text) != text or _CANTONESE & set(text):
        return "zh-Hant"
    if _S2T.convert(text) != text:
        return "zh-Hans"
    return None


def _detector() -> Callable[[str], str | None]:
    """bot.nlu.detect_language once the NLU package provides it, else the fallback above."""
    try:
        module = importlib.import_module("bot.nlu")
    except ImportError:
        return _fallback_detect_language
    detect = getattr(module, "detect_language", None)
    return detect if callable(detect) else _fallback_detect_language


detect_language = _detector()


@pytest.fixture(scope="module")
def faq() -> dict[str, Any]:
    """The parsed FAQ file."""
    data = yaml.safe_load(FAQ_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _examples(block: str) -> list[str]:
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    assert all(line.startswith("- ") for line in lines), lines
    return [line[2:].strip() for line in lines]


@pytest.fixture(scope="module")
def topics(faq: dict[str, Any]) -> dict[str, list[str]]:
    """FAQ key -> its example questions."""
    result: dict[str, list[str]] = {}
    for item in faq["nlu"]:
        intent = item["intent"]
        assert intent.startswith("inquiry/"), intent
        key = intent.split("/", 1)[1]
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key), key
        assert key not in result, f"topic {key} listed twice"
        result[key] = _examples(item["examples"])
    return result


def test_file_is_rasa_3_training_data(faq: dict[str, Any]) -> None:
    assert str(faq["version"]) == "3.1"
    assert set(faq) == {"version", "nlu", "responses"}


def test_enough_topics(topics: dict[str, list[str]]) -> None:
    assert len(topics) >= MIN_TOPICS


def test_responses_match_intents(faq: dict[str, Any], topics: dict[str, list[str]]) -> None:
    response_keys = {name.removeprefix("utter_inquiry/") for name in faq["responses"]}
    assert all(name.startswith("utter_inquiry/") for name in faq["responses"])
    assert response_keys == set(topics)


def test_every_response_has_the_three_languages(faq: dict[str, Any]) -> None:
    for name, variants in faq["responses"].items():
        langs = []
        for variant in variants:
            (cond,) = variant["condition"]
            assert cond["type"] == "slot" and cond["name"] == "language", name
            langs.append(cond["value"])
            text = variant["text"]
            assert isinstance(text, str) and text.strip(), name
            assert detect_language(text) == cond["value"], (name, cond["value"], text)
        assert sorted(langs) == sorted(LANGUAGES), name


def test_examples_per_script(topics: dict[str, list[str]]) -> None:
    for key, examples in topics.items():
        counts = Counter(detect_language(text) for text in examples)
        for lang in LANGUAGES:
            assert counts[lang] >= MIN_EXAMPLES_PER_SCRIPT, (key, dict(counts))


def test_no_example_in_two_topics(topics: dict[str, list[str]]) -> None:
    seen = Counter(text.casefold() for examples in topics.values() for text in examples)
    assert [text for text, n in seen.items() if n > 1] == []
