"""Web console settings (used by bot.web). The session secret belongs in the environment
(``KEFU_WEB_SECRET``), not in ``config.yml``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr, field_validator

from bot.config.base import Section, parse_duration, parse_size


class ChatSettings(Section):
    """The web chat (channel ``web``): the chat box a shop embeds and the ``/chat`` page."""

    # Serve the chat on the console's server (it needs the NLU model: `kefu web` loads it).
    enabled: bool = False
    # Pages on other sites that may embed the chat box (scheme://host[:port]); others are refused.
    allowed_origins: list[str] = []
    max_message_chars: int = Field(default=2000, ge=1, le=20000)
    upload_max_bytes: int = Field(default=5 * 1024**2, ge=1)
    upload_types: list[str] = ["image/jpeg", "image/png", "image/webp"]
    # Messages and uploads per visitor per minute; verification codes per visitor per hour.
    rate_per_minute: int = Field(default=20, ge=1)
    codes_per_hour: int = Field(default=5, ge=1)
    code_lifetime: timedelta = timedelta(minutes=10)
    code_attempts: int = Field(default=5, ge=1)
    # How long a visitor's cookie lasts, and how often an open chat looks for new messages.
    visitor_lifetime: timedelta = timedelta(days=90)
    poll_interval: timedelta = timedelta(seconds=1)
    # "module:factory" returning a CodeSender (SMS/e-mail gateway); empty: the code is logged.
    code_sender: str = ""

    @field_validator("code_lifetime", "visitor_lifetime", "poll_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("upload_max_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)

    @field_validator("allowed_origins", mode="after")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        cleaned = [origin.strip().rstrip("/").lower() for origin in value if origin.strip()]
        for origin in cleaned:
            if not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]:
                raise ValueError(f"not an origin: {origin!r} (use e.g. https://shop.example)")
        return cleaned


class PasswordHashing(Section):
    """The cost of argon2id for staff passwords; the defaults are argon2-cffi's (RFC 9106's
    low-memory profile, 64 MiB a check). A small server may lower ``memory_kib``; the test
    suite uses the minimum, since it creates and logs in hundreds of accounts. Existing
    hashes are upgraded to new parameters at the next successful login."""

    time_cost: int = Field(default=3, ge=1)
    memory_kib: int = Field(default=65536, ge=8)
    parallelism: int = Field(default=4, ge=1)


class WebSettings(Section):
    """Where the console listens and how it keeps sessions and logins safe."""

    # Serve the console inside `kefu run` too (`kefu web` serves it on its own).
    enabled: bool = False
    # Signs the session cookies; a secret, so set it as KEFU_WEB_SECRET in the environment.
    secret: SecretStr | None = None
    listen: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Cookies only over HTTPS: on behind a TLS proxy; off for a LAN over plain HTTP.
    secure_cookies: bool = False
    session_lifetime: timedelta = timedelta(hours=10)
    # Failed logins per e-mail (and per client address) within the window before refusing.
    login_attempts: int = Field(default=5, ge=1)
    login_window: timedelta = timedelta(minutes=15)
    password_hashing: PasswordHashing = PasswordHashing()
    # How often the live view checks for changes (server-sent events).
    poll_interval: timedelta = timedelta(seconds=2)
    inbox_limit: int = Field(default=500, ge=1)
    chat: ChatSettings = ChatSettings()

    @field_validator("session_lifetime", "login_window", "poll_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)
