"""The ``kefu`` command."""

from __future__ import annotations

import asyncio
import difflib
import functools
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, NoReturn

import typer
import typer.core
import typer.main

# Typer carries its own copy of Click; its groups and commands are that copy's classes.
from typer._click import Command, Context, HelpFormatter
from typer._click.exceptions import UsageError

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.app import App


class Feature(NamedTuple):
    """A sub-command that lives beside its feature, imported only when it is used."""

    where: str | Callable[[], typer.Typer]  # "module:attribute", or a function building it
    help: str  # its help (its line in `kefu --help`)
    single: bool = False  # a command function rather than a Typer app of sub-commands
    docstring: bool = False  # a single command's own help is its docstring, not ``help``


def _fees_app() -> typer.Typer:
    """``kefu fees``: the ledger commands beside their records, plus the collection ones."""
    from bot.fees.cli import add_fee_commands
    from bot.records.cli import fees_app

    add_fee_commands(fees_app)  # confirm, arrears, collection, arrange
    return fees_app


def _staff_app() -> typer.Typer:
    """``kefu staff``: staff actions on tickets, and ``staff add`` (a console account)."""
    from bot.staff.cli import staff_app
    from bot.web.cli import staff_add

    staff_app.command("add")(staff_add)
    return staff_app


# Importing every feature up front cost `kefu --help` or a one-line config error ~4 s CPU
# (matplotlib, openpyxl, scikit-learn, telegram, starlette...): they are imported on use.
FEATURES: dict[str, Feature] = {
    "train": Feature(
        "bot.nlu.cli:train_command", "Train the NLU model from dialogues/.", single=True
    ),
    "report": Feature(
        "bot.reports.cli:report_command",
        "Volumes, deadlines met, call-backs, complaint handling against its target,\n"
        "satisfaction, per building and per agent, and the causes of complaints.",
        single=True,
        docstring=True,
    ),
    "complaint-validity": Feature(
        "bot.reports.cli:validity_command",
        "Mark a complaint invalid (or valid again): invalid complaints are not rated.",
        single=True,
        docstring=True,
    ),
    "nlu": Feature("bot.nlu.cli:nlu_app", "Parse and evaluate with the NLU model."),
    "agents": Feature("bot.agents.cli:agents_app", "Agents who answer escalated chats."),
    "residents": Feature("bot.records.cli:residents_app", "The resident registry."),
    "orders": Feature("bot.records.cli:orders_app", "The built-in orders table."),
    "fees": Feature(_fees_app, "The fee ledger per unit."),
    "household": Feature("bot.household.cli:household_app", "One file per household (一戶一檔)."),
    "evaluation": Feature("bot.evaluation.cli:evaluation_app", "The quarterly owner evaluation."),
    "tickets": Feature("bot.tickets.cli:tickets_app", "Tickets: list, show, resolve, reopen."),
    "sla": Feature("bot.sla.cli:sla_app", "SLA deadlines of a ticket."),
    "followups": Feature(
        "bot.followups.cli:followups_app", "Scheduled follow-ups and their worker."
    ),
    "updates": Feature(
        "bot.channels.telegram.updates_cli:updates_app",
        "Telegram updates set aside (dead letters).",
    ),
    "web": Feature("bot.web.cli:web_app", "Serve the office's web console."),
    "staff": Feature(_staff_app, "Staff actions on tickets (audited)."),
    "technicians": Feature("bot.staff.cli:technicians_app", "The technician register."),
    "notices": Feature("bot.notices.cli:notices_app", "Notices (通告) to residents and shoppers."),
}


@functools.cache
def feature(name: str) -> Any:
    """Feature ``name``'s Typer app or command function, imported once per process (the
    fees and staff apps are extended when first built, so never twice)."""
    where = FEATURES[name].where
    if callable(where):
        return where()
    module, _, attribute = where.partition(":")
    return getattr(importlib.import_module(module), attribute)


def feature_command(name: str) -> Command:
    """Feature ``name`` as a Click command, built the way ``add_typer``/``command`` build it."""
    found, spec = feature(name), FEATURES[name]
    holder = typer.Typer()
    if spec.single:
        holder.command(name, help=None if spec.docstring else spec.help)(found)
    else:
        holder.add_typer(found, name=name, help=spec.help)
    holder.command("-")(_nothing)  # a second entry, so that Typer builds a group of them
    command: Command = typer.main.get_group(holder).commands[name]
    return command


def _nothing() -> None:
    """A placeholder (see :func:`feature_command`)."""


class LazyGroup(typer.core.TyperGroup):
    """The ``kefu`` group: a feature's commands are imported when one of them is run.

    Click's "lazy group" pattern: :meth:`list_commands` names the features as well and
    :meth:`get_command` imports one on demand. ``--help`` lists them from :data:`FEATURES`
    (name and help line) without importing them.
    """

    _listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        """Commands, then groups, each in the order they were declared (as Typer lists them)."""
        own = super().list_commands(ctx)
        singles = [n for n in own if not isinstance(self.commands[n], typer.core.TyperGroup)]
        lazy = [n for n in FEATURES if n not in own]
        lazy_singles = [n for n in lazy if FEATURES[n].single]
        groups = [n for n in own if n not in singles]
        return singles + lazy_singles + groups + [n for n in lazy if n not in lazy_singles]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The command ``cmd_name``, importing its feature the first time it is needed."""
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in FEATURES:
            return command
        if self._listing:  # the help's list of commands: name and help line are enough
            return typer.core.TyperCommand(cmd_name, help=FEATURES[cmd_name].help)
        command = feature_command(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The help, listing the features without importing them."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        """As Typer's, with the features not imported yet among its "Did you mean" names."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            if self.suggest_commands and args and exc.message.startswith("No such command"):
                matches = difflib.get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    names = ", ".join(repr(m) for m in matches)
                    message = exc.message.split(". Did you mean")[0].rstrip(".")
                    exc.message = f"{message}. Did you mean {names}?"
            raise


app = typer.Typer(
    name="kefu",
    help="Kefu (客服): a customer-service bot for property offices and online shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroup,
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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"kefu: {exc}", err=True)
        sys.exit(2)
