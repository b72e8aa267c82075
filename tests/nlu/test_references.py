"""Ticket numbers, order numbers written with dashes or spaces, and tracking numbers (#13 items
7 and 9): each is read whole and as what it is."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.nlu.entities import extract_entities

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Hong_Kong"))


def found(text: str) -> list[tuple[str, str, str]]:
    wanted = {"order_id", "ticket_id", "tracking_number", "phone"}
    return [
        (e["entity"], e["value"], text[e["start"] : e["end"]])
        for e in extract_entities(text, now=NOW)
        if e["entity"] in wanted
    ]


@pytest.mark.parametrize(
    ("text", "value", "surface"),
    [
        ("R-20261202-0002 跟進成點", "R-20261202-0002", "R-20261202-0002"),
        ("what's the status of r-20261127-0001?", "R-20261127-0001", "r-20261127-0001"),
        ("C 20261127 0003 點呀", "C-20261127-0003", "C 20261127 0003"),
        ("單號O202611270001", "O-20261127-0001", "O202611270001"),
    ],
)
def test_ticket_numbers_are_tickets_not_orders(text: str, value: str, surface: str) -> None:
    assert found(text) == [("ticket_id", value, surface)]


@pytest.mark.parametrize(
    ("text", "value", "surface"),
    [
        ("SO-2026-1130-006", "SO-2026-1130-006", "SO-2026-1130-006"),
        ("SO 2026 1130 006 點解仲未到", "SO-2026-1130-006", "SO 2026 1130 006"),
        ("唔好意思 打錯 係SO-2026-1130-006", "SO-2026-1130-006", "SO-2026-1130-006"),
        ("my order so-88412 is late", "SO-88412", "so-88412"),
        ("SO88412 到咗未", "SO88412", "SO88412"),
    ],
)
def test_order_numbers_with_dashes_or_spaces_are_read_whole(
    text: str, value: str, surface: str
) -> None:
    assert found(text) == [("order_id", value, surface)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("tracking number SF1234567890", "SF1234567890"),
        ("my tracking no. is SF1234567890 where is it", "SF1234567890"),
        ("運單號 SF1234567890 查唔到", "SF1234567890"),
        ("快递单号是 78123456789", "78123456789"),
    ],
)
def test_a_tracking_number_is_not_an_order_number(text: str, value: str) -> None:
    assert [(e, v) for e, v, _ in found(text)] == [("tracking_number", value)]


def test_a_word_and_a_spaced_phone_stay_a_phone() -> None:
    assert found("call 9123 4567") == [("phone", "+85291234567", "9123 4567")]
