"""Property tests: any string (or junk) gives a valid parse and valid entities, never an error."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nlu_helpers import NOW

from bot.nlu import Interpreter, detect_language
from bot.nlu.entities import extract_entities, parse_datetime, parse_phone, parse_unit

LANGUAGES = {"zh-Hant", "zh-Hans", "en", None}

pieces = st.sampled_from(
    [
        "電梯壞咗",
        "电梯坏了",
        "my order",
        "SO88412",
        "3棟2單元1502室",
        "HK$1,500",
        "一千五百元",
        "明天下午三點",
        "tomorrow at 3pm",
        "91234567",
        "+86 138 1234 5678",
        "a@b.com",
        "#",
        "😀",
        "👍🏻",
        "\u200b",
        "\u200f",
        "\u202e",
        "مرحبا",
        "שלום",
        "\x00",
        "\ufffd",
        "\U0010ffff",
        "!!!???",
        "。。。",
        "１２３",
        "ｓｏ８８４１２",
        "\n",
        "\t",
        "𨋢",
        "0" * 30,
        "月日號点",
        "99月99號",
        "25點61分",
        "-1-1-1",
        "/F",
        "Block",
        "unit",
        "$",
        "¥",
        "元元元",
    ]
)
texts = st.one_of(
    st.text(max_size=300),
    st.lists(pieces, max_size=30).map("".join),
    st.lists(st.one_of(pieces, st.text(max_size=5)), max_size=20).map(" ".join),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def no_logged_errors() -> Iterator[None]:
    """Fail if the code under test swallowed an exception (it logs one before degrading)."""
    handler = _Errors()
    logger = logging.getLogger("bot.nlu")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert not handler.records, [r.getMessage() for r in handler.records]


def assert_valid(result: dict[str, Any], text: str) -> None:
    assert result["text"] == text
    assert isinstance(result["intent"]["name"], str) and result["intent"]["name"]
    assert 0.0 <= result["intent"]["confidence"] <= 1.0
    assert len(result["intent_ranking"]) <= 10
    assert result["language"] in LANGUAGES
    for entity in result["entities"]:
        assert 0 <= entity["start"] <= entity["end"] <= len(text)
        assert {"entity", "value", "start", "end", "extractor"} <= set(entity)
    json.dumps(result, ensure_ascii=False)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=texts)
def test_parse_never_fails(interpreter: Interpreter, text: str) -> None:
    with no_logged_errors():
        assert_valid(interpreter.parse(text, now=NOW), text)


@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_entity_functions_never_fail(text: str) -> None:
    lookups = {"x.y": ["電梯壞咗", "電梯", "lift", "burst pipe"]}
    with no_logged_errors():
        for entity in extract_entities(text, now=NOW, lookups=lookups):
            assert 0 <= entity["start"] < entity["end"] <= len(text)
        assert detect_language(text) in LANGUAGES
        parse_unit(text)
        parse_phone(text, "HK")
        parse_datetime(text, now=NOW)


def test_huge_and_odd_inputs(interpreter: Interpreter) -> None:
    cases = [
        "",
        " ",
        "電梯壞咗" * 25_000,  # 100 000 characters
        "a" * 100_000,
        "😀" * 1000,
        "!?" * 500,
        "\u200b\u200c\u200d\ufeff",
        "مرحبا بك في الخدمة",
        "\x00\x01\x02\x7f",
        "我的order幾時到 SO88412 ‏עברית",
    ]
    for text in cases:
        with no_logged_errors():
            assert_valid(interpreter.parse(text, now=NOW), text)
    for junk in (None, b"\xff\xfe bytes", 12345):
        result = interpreter.parse(junk, now=NOW)  # type: ignore[arg-type]
        assert isinstance(result["text"], str)
