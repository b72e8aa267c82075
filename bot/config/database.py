"""Database settings: the store's URL, pool and migrations (used by bot.store)."""

from __future__ import annotations

from pydantic import Field, field_validator

from bot.config.base import Section


class DatabaseSettings(Section):
    url: str = "sqlite:///var/kefu.db"
    echo: bool = False
    pool_size: int = Field(default=10, ge=1, le=1000)
    # Test every pooled connection with a round trip before each use. Off by default: that is
    # one more round trip per transaction, and a connection the server dropped fails its first
    # use instead, which empties the pool and is retried like any outage (the update comes back).
    pool_pre_ping: bool = False
    auto_migrate: bool = Field(
        default=True, description="Run migrations on start (always done for SQLite)."
    )

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        from bot.dburl import check_database_url

        return check_database_url(value)
