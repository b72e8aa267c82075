"""Hong Kong addresses are shown back as written (issue 13 item 12): 「7座」 stays 7座, never 7棟;
the unit's parts stay normalised, so the same flat has one key however its block is called."""

from __future__ import annotations

import pytest

from bot.nlu.entities import format_unit, parse_unit, unit_key


@pytest.mark.parametrize(
    ("text", "zh_hant", "zh_hans", "en"),
    [
        ("7座12樓A室", "7座12樓A室", "7座12楼A室", "Flat A, 12/F, Block 7"),
        ("第2座10樓1005室", "2座1005室", "2座1005室", "Block 2, Room 1005"),
        ("A棟5樓3室", "A棟5樓3室", "A栋5楼3室", "Flat 3, 5/F, Block A"),
        ("Tower 2, 15/F, Flat B", "2棟15樓B室", "2栋15楼B室", "Flat B, 15/F, Tower 2"),
        # the defaults need no word of their own
        ("3棟2單元1502室", "3棟2單元1502室", "3栋2单元1502室", "Block 3, Unit 2, Room 1502"),
        ("B座12樓A室", "B座12樓A室", "B座12楼A室", "Flat A, 12/F, Block B"),
    ],
)
def test_the_users_block_word_is_shown_back(text: str, zh_hant: str, zh_hans: str, en: str) -> None:
    value = parse_unit(text)
    assert [format_unit(value, lang) for lang in ("zh-Hant", "zh-Hans", "en")] == [
        zh_hant,
        zh_hans,
        en,
    ]


def test_the_block_word_does_not_change_the_units_key() -> None:
    assert unit_key(parse_unit("7座12樓A室")) == unit_key(parse_unit("7棟12樓A室"))
    assert unit_key(parse_unit("7座12樓A室")) == unit_key(parse_unit("Block 7, 12/F, Flat A"))
    assert parse_unit("3棟2單元1502室") == {
        "block": "3",
        "unit": "2",
        "floor": "15",
        "room": "1502",
    }
    # what is shown reads back as the same flat, with the same word
    for language in ("zh-Hant", "zh-Hans"):
        assert parse_unit(format_unit(parse_unit("7座12樓A室"), language)) == parse_unit(
            "7座12樓A室"
        )


@pytest.mark.parametrize(
    ("text", "area", "block", "zh_hant", "en"),
    [
        ("7座地下大堂1號電梯", "地下大堂", "7", "7座地下大堂", "Block 7, 地下大堂"),
        ("走廊啲燈壞咗", "走廊", None, "走廊", "走廊"),
        ("5樓走廊好黑", "走廊", None, "5樓走廊", "5/F, 走廊"),
        ("停車場漏水", "停车场", None, "停車場", "停车场"),
        ("電梯大堂盞燈壞咗", "电梯大堂", None, "電梯大堂", "电梯大堂"),
        ("Block C lift lobby", "lift lobby", "C", "C座lift lobby", "Block C, lift lobby"),
        ("car park light broken", "car park", None, "car park", "car park"),
    ],
)
def test_common_areas_are_a_location(
    text: str, area: str, block: str | None, zh_hant: str, en: str
) -> None:
    value = parse_unit(text)
    assert value is not None and value["area"] == area and value["block"] == block
    assert format_unit(value, "zh-Hant") == zh_hant
    assert format_unit(value, "en") == en
