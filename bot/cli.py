"""The ``kefu`` command."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.app import App

app = typer.Typer(
    name="kefu",
    help="Kefu (客服): a customer-service bot for property offices and online shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
actions_app = typer.Typer(help="The Rasa action server.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(actions_app, name="actions")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Settings file (default: $KEFU_CONFIG or config.yml)."),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit."""
    typer.echo(f"kefu: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None) -> Settings:
    """Load settings; a bad file or value is one line on stderr and exit code 2."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(str(exc))


@app.command()
def chat(
    user: Annotated[str, typer.Option("--user", "-u", help="Who you are (any id).")] = "",
    phone: Annotated[
        str | None, typer.Option(help="Act as if this phone number was shared and verified.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Talk to Kefu in the terminal (reads one message per line when stdin is not a terminal)."""
    settings = settings_or_exit(config)
    setup_logging(os.environ.get("KEFU_LOG_LEVEL", "WARNING"), settings.default_region)
    from bot.channels.terminal import TerminalChat

    user_id = user or os.environ.get("USER") or "local"

    async def main() -> None:
        app_ = _build(settings)
        try:
            await TerminalChat(app_, user_id, phone=phone).run()
        finally:
            await app_.close()

    _run(main())


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply all migrations to the configured database."""
    settings = settings_or_exit(config)
    from bot.store.db import Database, StoreUnavailable, redact_url

    try:
        Database(settings.database.url).upgrade()
    except StoreUnavailable as exc:
        fail(str(exc), 3)
    typer.echo(f"database at {redact_url(settings.database.url)} is up to date")


@actions_app.command("serve")
def actions_serve(
    port: Annotated[int | None, typer.Option(help="Port (default actions.port, 5055).")] = None,
    host: Annotated[
        str | None, typer.Option(help="Address (default actions.host, 127.0.0.1).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve Kefu's actions as a standard Rasa action server (/health, /actions, /webhook).

    Needs KEFU_ACTIONS_TOKEN: Rasa sends it as ``?token=`` (``action_endpoint.token``).
    """
    settings = settings_or_exit(config)
    setup_logging(settings.log_level, settings.default_region)
    from bot.actions.server import MissingToken, serve
    from bot.agents.order_alerts import OrderLockAlerts
    from bot.app import build_events
    from bot.clock import SystemClock

    try:
        alerts = OrderLockAlerts(settings, SystemClock(settings.tz))
        serve(settings, host=host, port=port, order_alert=alerts, events=build_events(settings))
    except MissingToken as exc:
        fail(str(exc))


def _build(settings: Settings) -> App:
    from bot.app import build_app
    from bot.dialogue.domain import DomainError
    from bot.nlu import ModelError
    from bot.store.db import StoreUnavailable

    try:
        return build_app(settings)
    except StoreUnavailable as exc:
        fail(str(exc), 3)
    except (ModelError, DomainError) as exc:
        fail(str(exc), 4)


def _run(coro: object) -> None:
    from bot.store.db import StoreUnavailable

    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except StoreUnavailable as exc:
        fail(f"{exc}; your last message was not processed, please send it again later", 3)
    except KeyboardInterrupt:
        typer.echo("", err=True)


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run Kefu on Telegram (needs TELEGRAM_BOT_TOKEN; try `kefu chat` without one)."""
    settings = settings_or_exit(config)
    setup_logging(settings.log_level, settings.default_region)
    from bot.run import run_telegram

    raise typer.Exit(run_telegram(settings))


def _mount_features() -> None:
    """Sub-commands that live beside their features."""
    from bot.agents.cli import agents_app
    from bot.channels.telegram.updates_cli import updates_app
    from bot.evaluation.cli import evaluation_app
    from bot.fees.cli import add_fee_commands
    from bot.followups.cli import followups_app
    from bot.household.cli import household_app
    from bot.nlu.cli import nlu_app, train_command
    from bot.notices.cli import notices_app
    from bot.records.cli import fees_app, orders_app, residents_app
    from bot.reports.cli import report_command, validity_command
    from bot.sla.cli import sla_app
    from bot.staff.cli import staff_app, technicians_app
    from bot.tickets.cli import tickets_app
    from bot.web.cli import staff_add, web_app

    app.add_typer(nlu_app, name="nlu", help="Parse and evaluate with the NLU model.")
    app.command("train", help="Train the NLU model from dialogues/.")(train_command)
    app.add_typer(agents_app, name="agents", help="Agents who answer escalated chats.")
    app.add_typer(residents_app, name="residents", help="The resident registry.")
    app.add_typer(orders_app, name="orders", help="The built-in orders table.")
    add_fee_commands(fees_app)  # confirm, arrears, collection, arrange
    app.add_typer(fees_app, name="fees", help="The fee ledger per unit.")
    app.add_typer(household_app, name="household", help="One file per household (一戶一檔).")
    app.command("report")(report_command)
    app.command("complaint-validity")(validity_command)
    app.add_typer(evaluation_app, name="evaluation", help="The quarterly owner evaluation.")
    app.add_typer(tickets_app, name="tickets", help="Tickets: list, show, resolve, reopen.")
    app.add_typer(sla_app, name="sla", help="SLA deadlines of a ticket.")
    app.add_typer(followups_app, name="followups", help="Scheduled follow-ups and their worker.")
    app.add_typer(updates_app, name="updates", help="Telegram updates set aside (dead letters).")
    app.add_typer(web_app, name="web", help="Serve the office's web console.")
    # `kefu staff add` (a console account) beside the staff actions on tickets.
    staff_app.command("add")(staff_add)
    app.add_typer(staff_app, name="staff", help="Staff actions on tickets (audited).")
    app.add_typer(technicians_app, name="technicians", help="The technician register.")
    app.add_typer(notices_app, name="notices", help="Notices (通告) to residents and shoppers.")


_mount_features()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"kefu: {exc}", err=True)
        sys.exit(2)
