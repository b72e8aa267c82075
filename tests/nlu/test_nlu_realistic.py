"""Issue #13 on data the model never saw: realistic probes and held-out external small talk.

``realistic_probes.tsv`` (183 messages typed the way residents and shoppers type, 49 of them
emergencies) and ``external/chatterbot_negatives.tsv`` (chatterbot-corpus categories held out
of training and of threshold tuning) are never trained on. The floors sit a little under the
values measured when they were set (probes 0.97; emergencies 47/49; 0.9 % false tickets), so only a
real regression fails them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nlu_helpers import NOW

from bot.nlu import Interpreter
from bot.nlu.data import load_labelled_file
from bot.nlu.evaluate import TICKET_INTENTS, evaluate, false_tickets, is_negatives_file

HERE = Path(__file__).resolve().parent
PROBES = HERE / "realistic_probes.tsv"
NEGATIVES = HERE / "external" / "chatterbot_negatives.tsv"
SCRIPTS = ("zh-Hant", "zh-Hans", "en")


def _rows() -> list[list[str]]:
    rows = []
    for line in PROBES.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append([*line.split("\t"), "", "", ""][:4])
    return rows


def _emergencies(parse: dict[str, Any]) -> set[str]:
    return {e["value"] for e in parse["entities"] if e["entity"] == "emergency"}


@pytest.fixture(scope="module")
def parse(product_interpreter: Interpreter) -> Any:
    return lambda text: product_interpreter.parse(text, now=NOW)


def test_probe_intents_per_script(parse: Any) -> None:
    rows = _rows()
    assert len(rows) >= 150
    report = evaluate([(r[0], r[1]) for r in rows], parse)
    assert report["accuracy"] >= 0.92, report["errors"]
    for script in SCRIPTS:
        assert report["by_script"][script]["support"] >= 40
        assert report["by_script"][script]["accuracy"] >= 0.9, (script, report["errors"])


def test_probe_emergencies_by_meaning(parse: Any) -> None:
    rows = _rows()
    hazards = [r for r in rows if r[2]]
    assert len(hazards) >= 40
    missed = [(r[0], r[2]) for r in hazards if r[2] not in _emergencies(parse(r[0]))]
    assert len(missed) <= 4, missed  # recall >= 0.92 (measured 47/49)
    for script in SCRIPTS:  # every script, not just the one with most examples
        assert sum(1 for t, _ in missed if parse(t)["language"] == script) <= 2, missed
    false = [r[0] for r in rows if not r[2] and _emergencies(parse(r[0]))]
    assert len(false) <= 2, false  # measured 0
    # The issue's own wordings, every one of them, and each is a repair.
    for text, hazard in [
        ("有人困咗喺A座部𨋢入面 卡喺3樓同4樓中間", "trapped"),
        ("stuck inside the lift", "trapped"),
        ("电梯停了 里面有人出不来", "trapped"),
        ("走廊有煙 好似火燭", "fire"),
        ("成座冇電", "power_cut"),
        ("爆咗水喉 水狂噴", "burst_pipe"),
    ]:
        result = parse(text)
        assert _emergencies(result) == {hazard}, (text, result["entities"])
        assert result["intent"]["name"] == "repair", (text, result["intent"])


def test_short_fault_reports_are_repairs_with_a_category(parse: Any) -> None:
    rows = [r for r in _rows() if r[3]]
    assert len(rows) >= 20
    wrong = []
    for text, _, _, category in rows:
        result = parse(text)
        categories = {e["value"] for e in result["entities"] if e["entity"] == "repair_category"}
        if result["intent"]["name"] != "repair" or category not in categories:
            wrong.append((text, result["intent"]["name"], categories))
    assert len(wrong) <= 2, wrong  # measured 1 (a fault with a second question)
    for text in ("冷氣壞咗", "马桶坏了", "水喉壞咗", "部𨋢壞咗"):
        assert parse(text)["intent"]["name"] == "repair", text


@pytest.mark.parametrize(
    "text", ["91234567", "13812345678", "+852 6123 4567", "HK$1,500", "$2300", "1502", "2300蚊"]
)
def test_bare_numbers_are_never_goodbye(parse: Any, text: str) -> None:
    result = parse(text)
    assert result["intent"]["name"] in ("nlu_fallback", "out_of_scope"), result["intent"]
    assert result["entities"] or text == "1502"  # the number is kept for whoever asks


def test_bare_order_numbers_are_orders(parse: Any) -> None:
    for text in ("SO88412", "SO-2026-1130-006"):
        result = parse(text)
        assert result["intent"]["name"] == "order", (text, result["intent"])
        assert [e["value"] for e in result["entities"] if e["entity"] == "order_id"] == [
            text.upper()
        ]


def test_held_out_small_talk_opens_no_ticket(parse: Any) -> None:
    assert is_negatives_file(NEGATIVES)
    texts = [t for t, _ in load_labelled_file(NEGATIVES)]
    assert len(texts) >= 1000
    result = false_tickets(texts, parse)
    assert result["rate"] <= 0.02, result["opened"]  # measured 0.9 % (7.7 % before #13)
    for script in SCRIPTS:
        assert result["by_script"][script]["rate"] <= 0.03, (script, result["opened"])
    alarms = [t for t in texts if _emergencies(parse(t))]
    assert len(alarms) <= 3, alarms  # measured 0


@pytest.mark.parametrize("text", ["火星", "火", "水", "gas bill", "今晚食火鍋", "fire drill幾時"])
def test_a_hazard_word_alone_is_no_emergency(parse: Any, text: str) -> None:
    assert not _emergencies(parse(text)), parse(text)["entities"]


def test_the_issues_own_messages(parse: Any) -> None:
    """#13.11 by name: understood, and keyword lookups alone open no ticket."""
    expected = {
        "how are you": "greet",
        "I need to file a complaint": "complaint",
        "where is my item": "order",
    }
    for text, intent in expected.items():
        assert parse(text)["intent"]["name"] == intent, (text, parse(text)["intent_ranking"][:3])
    for text in ("cancellation fees", "refund policy", "誰發明了電燈泡", "start the timer"):
        result = parse(text)
        assert result["intent"]["name"] not in TICKET_INTENTS, (text, result["intent"])


@pytest.mark.parametrize("text", ["煤氣爐點唔著火", "热水器打不着火", "洗衣機唔入水", "電梯好慢"])
def test_a_fault_that_names_a_hazard_word_is_no_emergency(parse: Any, text: str) -> None:
    result = parse(text)
    assert result["intent"]["name"] == "repair", result["intent"]
    assert not _emergencies(result), result["entities"]
