"""The clause splitter (bot/dialogue/clauses.py): where a message holds two requests, and where
it holds one."""

from __future__ import annotations

import pytest

from bot.dialogue.clauses import split_clauses, substantial_clause


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("冷氣滴水，另外想問下管理處星期日開唔開？", ["冷氣滴水", "管理處星期日開唔開？"]),
        ("冷氣滴水另外想問泳池幾時開", ["冷氣滴水", "泳池幾時開"]),
        ("马桶堵了 顺便问一下物业费怎么交", ["马桶堵了", "物业费怎么交"]),
        ("想投訴樓上噪音 仲有想問泳池幾時開", ["想投訴樓上噪音", "泳池幾時開"]),
        ("部𨋢壞咗 同埋想問管理費幾時交", ["部𨋢壞咗", "管理費幾時交"]),
        ("灯坏了，还有物业费怎么交", ["灯坏了", "物业费怎么交"]),
        ("冷氣滴水。管理處星期日開唔開？", ["冷氣滴水。", "管理處星期日開唔開？"]),
        ("走廊燈壞咗，幾時可以嚟整？", ["走廊燈壞咗", "幾時可以嚟整？"]),
        (
            "my tap is leaking, also what time does the office close on sunday?",
            ["my tap is leaking", "what time does the office close on sunday?"],
        ),
        (
            "kitchen sink blocked and also, I wanted to ask, when is the office open",
            ["kitchen sink blocked", "when is the office open"],
        ),
        (
            "noise from upstairs btw when does the pool open",
            ["noise from upstairs", "when does the pool open"],
        ),
        (
            "the lift is broken. By the way, is the gym open today?",
            ["the lift is broken.", "is the gym open today?"],
        ),
    ],
)
def test_two_requests_are_split_at_the_marker(text: str, clauses: list[str]) -> None:
    assert split_clauses(text) == clauses


@pytest.mark.parametrize(
    "text",
    [
        "廚房水龍頭一直漏水",
        # 「同埋」 without an asking word joins two things of one request.
        "冷氣同埋雪櫃都壞咗",
        # 「仲有冇」「还有没有」 ask "is there still", they start nothing.
        "泳池仲有冇開",
        "停车场还有没有车位",
        "my tap is also leaking badly",
        "the tap leaks and also the sink",
        # Every part must stand on its own: no 「好」 or "ok" as a request.
        "好，另外想問泳池幾時開",
        "ok. btw the pool?",
        # Numbers are never cut: a flat, a phone, an order number, an amount.
        "3座1502室 電話 9123 4567",
        "SO-2026-1130-006 點解仲未到",
        "you charged 2,300.00 but my lease says 2,100.00",
        "Rm 15.02, Block 3",
        "冷氣壞咗。",
        "",
    ],
)
def test_one_request_is_left_whole(text: str) -> None:
    assert split_clauses(text) == [text]


def test_a_long_chain_is_a_ramble_not_a_list() -> None:
    text = "冷氣壞咗。燈又壞咗。水喉又漏水。門鎖又唔work。"
    assert split_clauses(text) == [text]


def test_substantial_counts_characters_words_and_numbers() -> None:
    assert substantial_clause("冷氣滴水")
    assert substantial_clause("my tap leaks")
    assert substantial_clause("3座1502室")
    assert not substantial_clause("好")
    assert not substantial_clause("ok thanks")
