"""Verifying a web visitor's phone or e-mail with a one-time code.

A visitor on the web is anonymous; to see their orders they prove a phone number or e-mail
address by the code sent to it. The code goes through a pluggable :class:`CodeSender` (an SMS
or e-mail gateway); the default writes it to the log with the address masked, so an office
can try the chat before it has a gateway. Pending codes live in this process (the chat is
served by one process), hashed, with a lifetime and a number of attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.config.web import ChatSettings
from bot.records.values import clean_email, mask_phone, try_phone

log = logging.getLogger(__name__)


class CodeSender(Protocol):
    """Delivers a verification code to a phone (``kind`` "phone") or e-mail ("email")."""

    async def send(self, kind: str, address: str, code: str, language: str) -> None: ...


class LogCodeSender:
    """The default sender: the code in the log, the address masked (no gateway needed)."""

    async def send(self, kind: str, address: str, code: str, language: str) -> None:
        log.warning("web chat verification code for %s: %s", mask_address(kind, address), code)


def mask_address(kind: str, address: str) -> str:
    """``+852****4567`` or ``a***@shop.hk``, for logs."""
    if kind == "phone":
        return mask_phone(address)
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}"


def load_sender(chat: ChatSettings) -> CodeSender:
    """The sender ``web.chat.code_sender`` names (``module:factory``), or the log."""
    if not chat.code_sender:
        return LogCodeSender()
    module, _, name = chat.code_sender.partition(":")
    factory = getattr(importlib.import_module(module), name)
    sender: CodeSender = factory()
    return sender


def parse_address(text: str, region: str) -> tuple[str, str] | None:
    """("phone", E.164) or ("email", lower-case address), or None when it is neither."""
    text = text.strip()[:254]
    if "@" in text:
        try:
            return "email", clean_email(text)
        except ValueError:
            return None
    phone = try_phone(text, region)
    return ("phone", phone) if phone else None


@dataclass
class _Pending:
    kind: str
    address: str
    digest: bytes
    expires: datetime
    attempts_left: int


class Codes:
    """Pending codes by visitor: one at a time, hashed, expiring, with limited attempts."""

    def __init__(self, chat: ChatSettings) -> None:
        self._lifetime: timedelta = chat.code_lifetime
        self._attempts = chat.code_attempts
        self._pending: dict[str, _Pending] = {}
        self._key = secrets.token_bytes(32)

    def _digest(self, visitor: str, code: str) -> bytes:
        return hmac.new(self._key, f"{visitor}:{code}".encode(), hashlib.sha256).digest()

    def issue(self, visitor: str, kind: str, address: str, now: datetime) -> str:
        """A new six-digit code for ``address`` (replacing the visitor's previous one)."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        self._pending[visitor] = _Pending(
            kind, address, self._digest(visitor, code), now + self._lifetime, self._attempts
        )
        if len(self._pending) > 50_000:
            for old in [k for k, p in self._pending.items() if p.expires <= now][:10_000]:
                del self._pending[old]
        return code

    def check(self, visitor: str, code: str, now: datetime) -> tuple[str, str] | None:
        """The (kind, address) the code proves, once; None when wrong, expired or used up."""
        pending = self._pending.get(visitor)
        if pending is None:
            return None
        if pending.expires <= now or pending.attempts_left <= 0:
            del self._pending[visitor]
            return None
        pending.attempts_left -= 1
        if not hmac.compare_digest(pending.digest, self._digest(visitor, code.strip()[:12])):
            return None
        del self._pending[visitor]
        return pending.kind, pending.address
