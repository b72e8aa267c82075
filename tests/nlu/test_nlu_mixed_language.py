"""One message, one language (issue 13 item 12): an English sentence with a Chinese word in it
is English; Cantonese with an English word in it stays Chinese."""

from __future__ import annotations

import pytest

from bot.nlu.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("my 冷氣 is broken", "en"),
        ("my 空调 is broken", "en"),
        ("the 電梯 in 7座 is stuck", "en"),
        ("部 lift 壞咗", "zh-Hant"),
        ("可唔可以用 FPS 俾錢", "zh-Hant"),
        ("冷氣 broken", "zh-Hant"),
        ("SO88412 到咗未", "zh-Hant"),
    ],
)
def test_the_language_of_a_mixed_message(text: str, language: str) -> None:
    assert detect_language(text) == language
