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
        if revision == "heads" and _at_heads(url):
            return  # already there: nothing for Alembic to do
        command.upgrade(alembic_config(url), revision)
    except OperationalError as exc:
        raise StoreUnavailable(
            f"the database at {redact_url(url)} cannot be reached or migrated: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}"
        ) from exc


_HEADS: dict[str, frozenset[str]] = {}


def _at_heads(url: str) -> bool:
    """Whether the database is already at every head revision.

    Every app start on SQLite upgrades, and Alembic's upgrade reads all the revision files
    again each time (about 40 ms, most of a test's app build); the heads are read once per
    process here, and a database that has them (nearly always) costs one query.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, pool

    heads = _HEADS.get(str(MIGRATIONS_DIR))
    if heads is None:
        script = ScriptDirectory.from_config(alembic_config(url))
        heads = _HEADS[str(MIGRATIONS_DIR)] = frozenset(script.get_heads())
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return current == heads


def current(url: str) -> None:
    """Print the current revision."""
    command.current(alembic_config(url))
