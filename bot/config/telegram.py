"""Telegram channel settings: mode, webhook, media, rate limits (bot.channels.telegram)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from bot.config.base import Count, Language, ListenPort, Section, parse_size


class TelegramWebhookSettings(Section):
    """Webhook mode: where this process listens, and the public URL Telegram posts to."""

    listen: str = "127.0.0.1"
    port: ListenPort = 8443
    path: str = "/telegram"
    # Public HTTPS URL of `path` behind the reverse proxy; when empty this process does not
    # call setWebhook (another worker or the operator registers it).
    public_url: str | None = None
    max_connections: int = Field(default=40, ge=1, le=100)  # Telegram's own limits


class TelegramRateLimitSettings(Section):
    """Outbound limits: Telegram allows ~1 message/s per chat, 30/s per bot, 20/min per group."""

    per_second: float = Field(default=30, ge=0)  # whole bot; 0 turns a limit off
    per_chat_per_second: float = Field(default=1, ge=0)
    per_chat_burst: Count = 3  # short bursts in one private chat are fine
    group_per_minute: float = Field(default=20, ge=0)
    max_retries: int = Field(default=5, ge=0, le=100)  # on 429 and on network errors
    network_backoff: float = Field(default=0.5, ge=0, le=60)  # first network retry; doubles


class TelegramSettings(Section):
    """The Telegram channel. The bot token and webhook secret come from the environment only
    (TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET)."""

    mode: Literal["polling", "webhook"] = "polling"
    # Another Bot API server (self-hosted telegram-bot-api, a test server), e.g.
    # http://127.0.0.1:8081/bot; env KEFU_TELEGRAM_BASE_URL.
    base_url: str | None = None
    base_file_url: str | None = None  # default: base_url with /bot -> /file/bot
    webhook: TelegramWebhookSettings = TelegramWebhookSettings()
    media_dir: Path | None = None  # default: <var_dir>/media
    max_file_size: Count = 20 * 1024 * 1024  # bytes, or "10MB"
    poll_timeout: int = Field(default=30, ge=0, le=600)  # seconds of getUpdates long polling
    # Seconds to wait for the Bot API's answer; a message answered later is not sent again.
    read_timeout: float = Field(default=5.0, gt=0, le=600)
    concurrency: Count = 64  # updates processed at once (different chats; one chat is in order)
    rate_limit: TelegramRateLimitSettings = TelegramRateLimitSettings()
    # Polling mode: GET /healthz and Prometheus /metrics on this address (0 or empty: off).
    # Webhook mode serves them on the webhook server instead.
    metrics_listen: str = "127.0.0.1"
    metrics_port: int | None = Field(default=9108, ge=0, le=65535)
    # Command menu language per Telegram language_code ("" = everyone else). Telegram matches
    # two-letter codes only, so zh-Hant and zh-Hans cannot both follow the client language.
    command_languages: dict[str, Language] | None = None

    @field_validator("max_file_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)
