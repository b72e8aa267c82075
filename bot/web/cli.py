"""``kefu web`` (serve the console) and ``kefu staff add`` (a console account)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated

import typer

from bot.clitools import ConfigOption, fail, settings_of, with_db
from bot.clock import Clock, SystemClock
from bot.config import LANGUAGES, Settings
from bot.store.db import Database, StoreUnavailable
from bot.web.accounts import AccountError, add_account
from bot.web.models import StaffRole

web_app = typer.Typer(help="The office's web console.", invoke_without_command=True)


@web_app.callback()
def serve(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="Port (default: web.port; 0: any).")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the web console until interrupted (needs KEFU_WEB_SECRET)."""
    if ctx.invoked_subcommand is not None:
        return
    # The console (starlette, templates, reports) and the app are imported to serve them, not
    # with this module: `kefu staff add` and every `kefu staff` command import it too.
    from bot.web.serve import NoSecret, web_secret

    settings = settings_of(config)
    try:
        secret = web_secret(settings)
    except NoSecret as exc:
        fail(str(exc))
    if port is not None:
        settings = settings.model_copy(
            update={"web": settings.web.model_copy(update={"port": port})}
        )
    try:
        asyncio.run(_serve(settings, secret))
    except StoreUnavailable as exc:
        fail(str(exc), 3)
    except OSError as exc:
        fail(f"cannot listen on {settings.web.listen}:{settings.web.port}: {exc.strerror or exc}")


async def _serve(settings: Settings, secret: str) -> None:
    from bot.app import build_app, install_events
    from bot.channels.web.routes import chat_routes
    from bot.web.serve import ConsoleServer

    if settings.web.chat.enabled:
        # The web chat talks to customers, so it needs the whole app (engine, NLU model).
        app = await asyncio.to_thread(build_app, settings)
        db = app.db
        server = ConsoleServer(settings, db, app.clock, secret=secret,
                               extra_routes=chat_routes(app, secret=secret))  # fmt: skip
    else:
        db = Database(settings.database.url, echo=settings.database.echo)
        if db.is_sqlite or settings.database.auto_migrate:
            await asyncio.to_thread(db.upgrade)
        install_events(db, settings)
        server = ConsoleServer(settings, db, SystemClock(settings.tz), secret=secret)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        print(f"kefu web console on {server.url}", flush=True)
        await stop.wait()
    finally:
        await server.stop()
        await db.dispose()


def staff_add(
    email: Annotated[str, typer.Argument(help="The staff member's e-mail (their login).")],
    name: Annotated[str, typer.Option(help="Name shown to colleagues.")] = "",
    role: Annotated[
        StaffRole, typer.Option(help="agent, supervisor or manager.")
    ] = StaffRole.AGENT,
    telegram_id: Annotated[
        int | None, typer.Option(help="Their Telegram user id, to link the agents' group.")
    ] = None,
    language: Annotated[str | None, typer.Option(help="zh-Hant, zh-Hans or en.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Add a web console account (asks for the password twice unless --password-stdin)."""
    if language is not None and language not in LANGUAGES:
        fail(f"unknown language {language!r}: use one of {', '.join(LANGUAGES)}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            await add_account(
                session, email=email, name=name, role=role, password=password,
                now=clock.now(), telegram_user_id=telegram_id, language=language,
                hashing=settings.web.password_hashing,
            )  # fmt: skip

    try:
        with_db(config, work)
    except AccountError as exc:
        fail(str(exc))
    typer.echo(f"added {email.strip().lower()} ({role})")
