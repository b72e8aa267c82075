"""``kefu updates failed|retry``: the Telegram updates set aside as dead letters.

An update that can never be processed (see :mod:`bot.channels.telegram.poison`) is kept whole
in ``dead_letters``; staff list them here and, once the cause is fixed, feed one through the
channel again.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC
from typing import Annotated

import typer

from bot.clitools import ConfigOption, fail, settings_of
from bot.config import Settings
from bot.store.db import StoreUnavailable
from bot.store.deadletters import (
    FAILED,
    DeadLetter,
    error_class,
    error_message,
    get_dead_letter,
    list_dead_letters,
    mark_retried,
    record_dead_letter,
)

updates_app = typer.Typer(help="Telegram updates set aside as dead letters.", no_args_is_help=True)


def _run(coro: object) -> None:
    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except StoreUnavailable as exc:
        fail(str(exc), 3)


@updates_app.command("failed")
def updates_failed(
    show_all: Annotated[bool, typer.Option("--all", help="Also those retried since.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, payloads included.")] = (
        False
    ),
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    config: ConfigOption = None,
) -> None:
    """List the updates set aside because they could not be processed."""
    settings = settings_of(config)

    async def main() -> None:
        from bot.store.db import Database

        db = Database(settings.database.url)
        try:
            if db.is_sqlite or settings.database.auto_migrate:
                await asyncio.to_thread(db.upgrade)
            letters = await list_dead_letters(db, status=None if show_all else FAILED, limit=limit)
        finally:
            await db.dispose()
        if as_json:
            typer.echo(json.dumps([letter.as_dict() for letter in letters], ensure_ascii=False))
            return
        if not letters:
            typer.echo("no failed updates")
            return
        for letter in letters:
            typer.echo(_line(letter, settings))

    _run(main())


def _line(letter: DeadLetter, settings: Settings) -> str:
    seen = f"{letter.last_seen_at.astimezone(settings.tz):%Y-%m-%d %H:%M:%S}"
    times = f" x{letter.attempts}" if letter.attempts > 1 else ""
    status = "" if letter.status == FAILED else f" [{letter.status}]"
    message = letter.error_message.splitlines()[0][:120] if letter.error_message else ""
    return (
        f"{letter.id:>5}  {seen}{times}{status}  {letter.channel} update {letter.delivery_id}"
        f"  chat {letter.chat_id or '-'}  {letter.error_class}: {message}"
    )


@updates_app.command("retry")
def updates_retry(
    letter_id: Annotated[int, typer.Argument(help="The id shown by `kefu updates failed`.")],
    config: ConfigOption = None,
) -> None:
    """Process a set-aside update again (after its cause is fixed); needs TELEGRAM_BOT_TOKEN."""
    settings = settings_of(config)
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        fail("set TELEGRAM_BOT_TOKEN: the replies are sent to Telegram")
    _run(_retry(settings, token, letter_id))


async def _retry(settings: Settings, token: str, letter_id: int) -> None:
    from telegram import Update

    from bot.agents.telegram import attach_agents
    from bot.app import build_app
    from bot.channels.telegram.app import TelegramBot
    from bot.channels.telegram.channel import CHANNEL, RetryLater

    app = build_app(settings)
    try:
        letter = await get_dead_letter(app.db, letter_id)
        if letter is None or letter.channel != CHANNEL:
            fail(f"no failed Telegram update {letter_id}")
        bot = TelegramBot(settings, app.engine, token=token, db=app.db)
        attach_agents(bot, app)  # an agents' group update goes where `kefu run` sends it
        await bot.application.initialize()
        try:
            raw = json.loads(letter.payload)
            try:
                await bot.channel.process_update(Update.de_json(raw, bot.bot))
            except RetryLater as exc:
                fail(f"not now: {exc}", 3)
            except Exception as exc:
                await record_dead_letter(
                    app.db,
                    channel=CHANNEL,
                    delivery_id=letter.delivery_id,
                    payload=raw,
                    exc=exc,
                    now=app.clock.now().astimezone(UTC),
                    chat_id=letter.chat_id,
                )
                fail(f"update {letter.delivery_id} still fails: {error_class(exc)}: "
                      f"{error_message(exc).splitlines()[0]}", 1)  # fmt: skip
            await mark_retried(app.db, letter.id, app.clock.now().astimezone(UTC))
            typer.echo(f"update {letter.delivery_id} processed; dead letter {letter.id} retried")
        finally:
            await bot.channel.close()
            await bot.application.shutdown()
    finally:
        await app.close()
