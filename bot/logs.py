"""Logging setup: phone numbers are masked in every log line, tracebacks included.

Phone numbers are found with the ``phonenumbers`` library's matcher (numbers that are valid for
their region, local ones read in ``settings.default_region``), so dates, times, ticket numbers
and Telegram ids stay readable, and ``852.9123.4567`` or ``(852) 9123-4567`` are caught as
well as ``+852 9123 4567``. A masked number keeps its last four digits for support.
"""

from __future__ import annotations

import logging
import re

import phonenumbers

DEFAULT_REGION = "HK"
# The matcher is slow next to a regex: only text with a run of at least seven digits
# (separated by what phone numbers are written with) can hold a phone number.
_CANDIDATE = re.compile(r"\d(?:[\s().\-+/]{0,3}\d){6}")

_region = DEFAULT_REGION


def set_region(region: str) -> None:
    """The region of numbers written without a country code (``settings.default_region``)."""
    global _region
    _region = (region or DEFAULT_REGION).upper()


def mask_number(value: str) -> str:
    """``***1234``: a value known to be a phone number, whatever its format."""
    digits = re.sub(r"\D", "", value)
    return "***" + digits[-4:] if len(digits) >= 4 else value


def mask_phones(text: str, region: str | None = None) -> str:
    """Replace every phone number in ``text`` with ``***1234`` (the last four digits)."""
    if not text or _CANDIDATE.search(text) is None:
        return text
    matcher = phonenumbers.PhoneNumberMatcher(
        text, region or _region, leniency=phonenumbers.Leniency.VALID
    )
    parts: list[str] = []
    last = 0
    for match in matcher:
        parts.append(text[last : match.start])
        parts.append(mask_number(match.raw_string))
        last = match.end
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


class PhoneMaskingFilter(logging.Filter):
    """Masks phone numbers in the message, the exception text and the stack of every record.

    The exception is formatted here (and cached on the record as ``exc_text``, which every
    :class:`logging.Formatter` then uses as it is), so a number in an exception's message or
    in a traceback's source line is masked too.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(message)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phones(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_phones(record.stack_info)
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


def setup_logging(level: str = "INFO", region: str = DEFAULT_REGION) -> None:
    """Log to stderr with phone numbers (local ones read in ``region``) masked."""
    set_region(region)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PhoneMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
