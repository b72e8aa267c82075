"""Web console settings (used by bot.web). The session secret belongs in the environment
(``KEFU_WEB_SECRET``), not in ``config.yml``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr, field_validator

from bot.config.base import Section, parse_duration


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
    # How often the live view checks for changes (server-sent events).
    poll_interval: timedelta = timedelta(seconds=2)
    inbox_limit: int = Field(default=500, ge=1)

    @field_validator("session_lifetime", "login_window", "poll_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)
