"""Phone numbers never appear whole in logs; nothing else in a log line is touched."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

import bot.logs
from bot.logs import PhoneMaskingFilter, mask_phones, set_region


@pytest.fixture(autouse=True)
def _hong_kong() -> Iterator[None]:
    set_region("HK")
    yield
    set_region("HK")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call +852 9123 4567 now", "call ***4567 now"),
        ("phone=+8613800138000", "phone=***8000"),
        ("91234567", "***4567"),
        ("dotted 852.9123.4567 here", "dotted ***4567 here"),
        ("(852) 9123-4567", "***4567"),
        ("ticket R-20261127-0001 for unit 1502", "ticket R-20261127-0001 for unit 1502"),
        ("order 20261120-8841", "order 20261120-8841"),
        # Dates, times and ids are not phone numbers.
        ("at 2026-12-02 09:01:23 done", "at 2026-12-02 09:01:23 done"),
        ("due 2026-12-02T09:01:23+08:00", "due 2026-12-02T09:01:23+08:00"),
        ("update from user 7012345678 in chat 123456789", None),
        ("pid 1234567 port 5055", None),
        ("no digits at all", None),
    ],
)
def test_mask_phones(text: str, masked: str | None) -> None:
    assert mask_phones(text) == (text if masked is None else masked)


def test_local_numbers_read_in_the_configured_region() -> None:
    assert mask_phones("call 13800138000") == "call 13800138000"  # not a Hong Kong number
    set_region("CN")
    assert mask_phones("call 13800138000") == "call ***8000"
    assert mask_phones("call 138 0013 8000", "CN") == "call ***8000"


def test_lines_without_a_run_of_digits_skip_the_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    def matcher(*args: object, **kwargs: object) -> None:
        raise AssertionError("the phone matcher ran on a line that cannot hold a number")

    monkeypatch.setattr(bot.logs.phonenumbers, "PhoneNumberMatcher", matcher)
    for line in ("turn handled in 12 ms", "conversation 42 owner agent", "ok", "a-1 b-22 c-333"):
        assert mask_phones(line) == line


def test_filter_masks_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("kefu.test")
    logger.addFilter(PhoneMaskingFilter())
    with caplog.at_level(logging.INFO, logger="kefu.test"):
        logger.info("contact shared %s", "+852 6123 9876")
    assert "***9876" in caplog.text
    assert "6123" not in caplog.text


def _logged(fn: object) -> str:
    """What a handler set up like ``setup_logging``'s writes for ``fn``'s logging."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PhoneMaskingFilter())
    logger = logging.getLogger("kefu.test.tracebacks")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        fn(logger)  # type: ignore[operator]
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_exception_text_and_traceback_are_masked() -> None:
    def fail(logger: logging.Logger) -> None:
        try:
            raise RuntimeError("no resident with phone 9123 4567 (852.6123.9876)")
        except RuntimeError:
            logger.exception("turn failed for chat 7012345678")

    out = _logged(fail)
    assert "Traceback" in out and "RuntimeError" in out
    assert "9123" not in out and "6123" not in out  # neither the message nor the source line
    assert out.count("***4567") == 2 and out.count("***9876") == 2
    assert "chat 7012345678" in out


def test_stack_info_is_masked() -> None:
    def stack(logger: logging.Logger) -> None:
        phone = "+852 9123 4567"  # noqa: F841 - shown in the stack's source line
        logger.warning("slow", stack_info=True)  # call +852 9123 4567

    out = _logged(stack)
    assert "Stack (most recent call last)" in out
    assert "9123" not in out and "***4567" in out
