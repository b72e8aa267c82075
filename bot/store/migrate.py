"""Alembic, driven from code: ``kefu db upgrade`` and the automatic upgrade on start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.exc import OperationalError

from bot.store.urls import StoreUnavailable, redact_url, sync_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str, metadata: MetaData | None = None) -> Config:
    """An Alembic config pointing at Kefu's migrations and ``url``.

    ``metadata`` (``bot.schema.metadata``) is for autogenerating a revision; running the
    migrations does not need it.
    """
    cfg = Config()
    if metadata is not None:
        cfg.attributes["target_metadata"] = metadata
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` up to ``revision`` (all heads by default)."""
    try:
        command.upgrade(alembic_config(url), revision)
    except OperationalError as exc:
        raise StoreUnavailable(
            f"the database at {redact_url(url)} cannot be reached or migrated: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}"
        ) from exc


def current(url: str) -> None:
    """Print the current revision."""
    command.current(alembic_config(url))
