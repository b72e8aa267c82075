"""What every package's ``kefu`` sub-commands share: the ``--config`` option, one-line errors
and running a command against the configured database.

Each package keeps its commands in its own ``cli.py`` (``bot/tickets/cli.py``, ...), and
``bot/cli.py`` mounts them; this module is below all of them and imports no feature.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from bot.clock import Clock, SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.store.db import Database, StoreUnavailable

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (default: $KEFU_CONFIG or config.yml)."),
]


# Settings and clock handed in by a program that runs commands inside itself (see `injected`).
_INJECTED: ContextVar[tuple[Settings | None, Clock | None]] = ContextVar(
    "kefu_cli_injected", default=(None, None)
)


@contextlib.contextmanager
def injected(*, settings: Settings | None = None, clock: Clock | None = None) -> Iterator[None]:
    """Run commands with these settings and this clock instead of the configured ones and the
    wall clock: for a program that runs ``kefu`` commands inside itself (a transcript on a
    frozen clock, a console). Commands run in another thread see them too
    (``asyncio.to_thread`` copies the context)."""
    token = _INJECTED.set((settings, clock))
    try:
        yield
    finally:
        _INJECTED.reset(token)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``kefu: message`` on stderr and exit with ``code``."""
    typer.echo(f"kefu: {message}", err=True)
    raise typer.Exit(code)


def settings_of(config: Path | None) -> Settings:
    """The settings, or a one-line error (exit 2)."""
    given, _clock = _INJECTED.get()
    if given is not None:
        return given
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(str(exc))


def with_db(config: Path | None, work: Callable[[Database, Settings, Clock], Awaitable[T]]) -> T:
    """Run ``work`` against the configured database (migrated first where allowed)."""
    settings = settings_of(config)

    async def main() -> T:
        db = Database(settings.database.url, echo=settings.database.echo)
        try:
            if db.is_sqlite or settings.database.auto_migrate:
                await asyncio.to_thread(db.upgrade)
            clock = _INJECTED.get()[1] or SystemClock(settings.tz)
            return await work(db, settings, clock)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except StoreUnavailable as exc:
        fail(str(exc), 3)


def when(dt: datetime | None, settings: Settings) -> str:
    """A time for a table cell, in the office's time zone."""
    return "-" if dt is None else f"{dt.astimezone(settings.tz):%Y-%m-%d %H:%M}"
