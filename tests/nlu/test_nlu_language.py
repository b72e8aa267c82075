"""Reply-language detection by script."""

from __future__ import annotations

import pytest

from bot.nlu import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("部電梯壞咗", "zh-Hant"),
        ("幾時送到", "zh-Hant"),
        ("冇熱水", "zh-Hant"),  # Cantonese-only character
        ("唔該", "zh-Hant"),
        ("就咁先", "zh-Hant"),
        ("啱", "zh-Hant"),
        ("我的order幾時到", "zh-Hant"),
        ("請問管理處幾點開門", "zh-Hant"),
        ("裡面只有一個人", "zh-Hant"),  # 只/面 are Traditional too
        ("电梯坏了", "zh-Hans"),
        ("我的订单什么时候到", "zh-Hans"),
        ("物业费怎么交", "zh-Hans"),
        ("the lift is broken", "en"),
        ("ok", "en"),
        ("SO88412 where is it", "en"),
        ("你好", None),  # characters common to both scripts
        ("我要", None),
        ("12345", None),
        ("👍👍", None),
        ("！？。", None),
        ("", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_majority_wins_in_mixed_scripts() -> None:
    assert detect_language("電梯壞咗，电") == "zh-Hant"
    assert detect_language("电梯坏了还没修，電") == "zh-Hans"
