"""Logging setup: phone numbers are masked in every log line."""

from __future__ import annotations

import logging
import re

# 7+ digits, optionally with +, spaces or dashes: phone-like. Keeps the last 4 digits.
_PHONE = re.compile(r"(?<![\w.\-/#])(\+?\d[\d \-]{5,}\d)(?![\w.\-/])")
# Ticket and order numbers such as 20261120-8841 start with a date; they are not phones.
_DATED = re.compile(r"^20\d{6}-")


def mask_phones(text: str) -> str:
    """Replace phone-like numbers with ``***1234`` (the last four digits stay for support)."""

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(1))
        if len(digits) < 7 or _DATED.match(match.group(1)):
            return match.group(1)
        return "***" + digits[-4:]

    return _PHONE.sub(_mask, text)


class PhoneMaskingFilter(logging.Filter):
    """Masks phone numbers in the rendered message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


# Libraries whose INFO lines describe their own wiring, not the service: rasa_sdk logs every action
# it registers (about 100 lines per start), Alembic every plugin and migration step, PTB's
# Application its start and stop (Kefu logs what an operator needs itself), tornado every request.
_NOISY = (
    "httpx",
    "apscheduler",
    "sanic.access",
    "alembic.runtime.migration",
    "alembic.runtime.plugins",
    "rasa_sdk.executor",
    "telegram.ext.Application",
    # One line per HTTP request: every Telegram webhook post and every health check and
    # Prometheus scrape. Failed requests (4xx, 5xx) are still logged as warnings and errors.
    "tornado.access",
)


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with phone numbers masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PhoneMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
