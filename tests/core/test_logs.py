"""Phone numbers never appear whole in logs."""

from __future__ import annotations

import logging

import pytest

from bot.logs import PhoneMaskingFilter, mask_phones


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call +852 9123 4567 now", "call ***4567 now"),
        ("phone=+8613800138000", "phone=***8000"),
        ("91234567", "***4567"),
        ("ticket R-20261127-0001 for unit 1502", "ticket R-20261127-0001 for unit 1502"),
        ("order 20261120-8841", "order 20261120-8841"),
    ],
)
def test_mask_phones(text: str, masked: str) -> None:
    assert mask_phones(text) == masked


def test_filter_masks_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("kefu.test")
    logger.addFilter(PhoneMaskingFilter())
    with caplog.at_level(logging.INFO, logger="kefu.test"):
        logger.info("contact shared %s", "+852 6123 9876")
    assert "***9876" in caplog.text
    assert "6123" not in caplog.text
