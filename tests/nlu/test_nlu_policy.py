"""Hazard labels from metadata, the emergency entity's merge rules and the intent guard rails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nlu_helpers import NOW, make_settings

from bot.nlu import load_interpreter
from bot.nlu.data import load_training_data
from bot.nlu.entities import extract_entities
from bot.nlu.hazard import EXTRACTOR, detect, hazard_labels, merge
from bot.nlu.policy import bare_reference, decide

SETTINGS = make_settings(Path("dialogues"), Path("models"))


def _ranking(*pairs: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"name": n, "confidence": c} for n, c in pairs]


def test_metadata_names_the_hazard(tmp_path: Path) -> None:
    folder = tmp_path / "dialogues"
    folder.mkdir()
    (folder / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: repair\n  metadata:\n    emergency: trapped\n  examples: |\n"
        "    - 部𨋢停咗 我喺入面\n"
        "- intent: repair\n  examples:\n"
        "  - text: 火警鐘亂響但冇火\n    metadata:\n      emergency: none\n"
        "  - 冷氣壞咗\n",
        "utf-8",
    )
    data = load_training_data(folder)
    assert data.hazards == {"部𨋢停咗 我喺入面": "trapped", "火警鐘亂響但冇火": "none"}
    assert ("冷氣壞咗", "repair") in data.examples
    before = data.fingerprint()
    data.hazards["火警鐘亂響但冇火"] = "fire"
    assert data.fingerprint() != before  # a relabelled hazard retrains the model


def test_hazard_labels_metadata_then_keywords_then_none() -> None:
    lookups = {"emergency.burst_pipe": ["爆水管"], "emergency.fire": ["火警"]}

    def entities(text: str) -> list[dict[str, Any]]:
        return extract_entities(text, now=NOW, lookups=lookups)

    examples = [
        ("部𨋢停咗 我喺入面", "repair"),  # metadata
        ("爆水管呀", "repair"),  # keyword, a repair
        ("火警鐘亂響但冇火", "repair"),  # keyword, but metadata says none
        ("幾時有火警演習", "inquiry"),  # keyword in a question: none
        ("冷氣壞咗", "repair"),
    ]
    explicit = {"部𨋢停咗 我喺入面": "trapped", "火警鐘亂響但冇火": "none"}
    assert hazard_labels(examples, explicit, entities) == [
        "trapped",
        "burst_pipe",
        "none",
        "none",
        "none",
    ]


def test_detect_threshold() -> None:
    classes = ["fire", "none", "trapped"]
    assert detect(classes, np.array([0.7, 0.2, 0.1]), 0.5) == ("fire", 0.7)
    assert detect(classes, np.array([0.45, 0.3, 0.25]), 0.5) == ("none", 0.3)
    assert detect([], np.empty(0), 0.5) == ("none", 1.0)


def test_merge_detector_first_keywords_as_backstop() -> None:
    keyword = {"entity": "emergency", "value": "fire", "start": 2, "end": 4, "extractor": "K"}
    unit = {"entity": "unit", "value": {}, "start": 0, "end": 2, "extractor": "U"}
    # The detector's verdict replaces keyword hits, spanning the keyword when they agree.
    found = merge([unit, keyword], "fire", 0.8, 10)
    assert [e["entity"] for e in found] == ["unit", "emergency"]
    assert found[1]["extractor"] == EXTRACTOR and (found[1]["start"], found[1]["end"]) == (2, 4)
    found = merge([unit, keyword], "trapped", 0.8, 10)
    assert [(e["value"], e["start"], e["end"]) for e in found if e["entity"] == "emergency"] == [
        ("trapped", 0, 10)
    ]
    # Unsure: the keyword stands. Sure there is none: the keyword alone does not make one.
    assert merge([unit, keyword], "none", 0.5, 10) == [unit, keyword]
    assert merge([unit, keyword], "none", 0.95, 10) == [unit]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("91234567", "phone"),
        ("+852 6123 4567", "phone"),
        ("SO88412", "order_id"),
        ("HK$1,500", "amount"),
        ("1502", "number"),
        ("886", None),
        ("88", None),
        ("91234567 係我電話", None),
    ],
)
def test_bare_reference(text: str, kind: str | None) -> None:
    lookups: dict[str, list[str]] = {}
    assert bare_reference(text, extract_entities(text, now=NOW, lookups=lookups)) == kind


def test_numbers_are_never_goodbye() -> None:
    goodbye = _ranking(("goodbye", 0.9), ("order", 0.05))
    for text, entities in [
        ("91234567", [{"entity": "phone", "start": 0, "end": 8}]),
        ("1502", []),
    ]:
        intent = decide(
            goodbye, has_signal=True, nlu=SETTINGS.nlu, text=text, entities=entities, hazard=None
        )
        assert intent["name"] == "nlu_fallback"
    order = decide(
        goodbye,
        has_signal=True,
        nlu=SETTINGS.nlu,
        text="SO88412",
        entities=[{"entity": "order_id", "start": 0, "end": 7}],
        hazard=None,
    )
    assert order == {"name": "order", "confidence": 0.05}
    bye = decide(goodbye, has_signal=True, nlu=SETTINGS.nlu, text="886", entities=[], hazard=None)
    assert bye["name"] == "goodbye"


def test_ticket_floor_asks_instead_of_opening_a_ticket() -> None:
    nlu = SETTINGS.nlu.model_copy(update={"ticket_threshold": 0.6, "threshold": 0.3})
    weak = _ranking(("complaint", 0.5), ("out_of_scope", 0.2))
    args: dict[str, Any] = {"has_signal": True, "nlu": nlu, "text": "x", "entities": []}
    assert decide(weak, hazard=None, **args) == {"name": "nlu_fallback", "confidence": 0.5}
    # Not a ticket intent: the ordinary threshold applies.
    assert decide(_ranking(("inquiry", 0.5), ("x", 0.1)), hazard=None, **args)["name"] == "inquiry"
    # An emergency is a repair at once, whatever the floor; a question about one is not.
    urgent = decide(weak, hazard="fire", hazard_confidence=0.8, **args)
    assert urgent == {"name": "repair", "confidence": 0.8}
    asking = decide(_ranking(("inquiry", 0.7), ("repair", 0.2)), hazard="fire", **args)
    assert asking["name"] == "inquiry"


def test_fixture_model_emits_one_emergency_entity(tmp_path: Path) -> None:
    """End to end on a tiny data set: metadata-trained hazards reach the parse's entities."""
    folder = tmp_path / "dialogues"
    folder.mkdir()
    trapped = ["部𨋢停咗 我喺入面", "電梯卡住 入面有人", "lift stuck with people inside"] * 3
    none = ["冷氣壞咗", "電梯好慢", "水龍頭滴水", "the lift is slow", "燈壞咗", "窗關唔埋"] * 2
    (folder / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: repair\n  metadata:\n    emergency: trapped\n  examples:\n"
        + "".join(f"  - {t} {i}\n" for i, t in enumerate(trapped))
        + "- intent: repair\n  examples:\n"
        + "".join(f"  - {t} {i}\n" for i, t in enumerate(none))
        + "- intent: greet\n  examples:\n  - 你好\n  - hello\n  - 早晨\n",
        "utf-8",
    )
    settings = make_settings(folder, tmp_path / "models", auto_train=True)
    interpreter = load_interpreter(settings)
    found = [
        e
        for e in interpreter.parse("電梯停咗 入面有人", now=NOW)["entities"]
        if e["entity"] == "emergency"
    ]
    assert [(e["value"], e["extractor"]) for e in found] == [("trapped", EXTRACTOR)]
    assert not [
        e for e in interpreter.parse("冷氣壞咗", now=NOW)["entities"] if e["entity"] == "emergency"
    ]


def test_short_or_uncorroborated_verdicts_do_not_stand() -> None:
    from bot.nlu.hazard import corroborated, enough_to_judge

    assert not enough_to_judge("火") and not enough_to_judge("火星") and not enough_to_judge("fire")
    assert (
        enough_to_judge("成座冇電") and enough_to_judge("gas leak") and enough_to_judge("lift困人")
    )
    probs = np.array([0.8, 0.2])
    assert detect(["fire", "none"], probs, 0.5, "火星") == ("none", 0.0)
    assert detect(["fire", "none"], probs, 0.5, "走廊有煙") == ("fire", 0.8)
    assert corroborated("gas", 0.7, "repair") and corroborated("gas", 0.95, "out_of_scope")
    assert not corroborated("gas", 0.7, "out_of_scope")  # "gas bill"
