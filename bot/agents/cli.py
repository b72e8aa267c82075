"""``kefu agents add|list|remove``: the people allowed to answer in the agents' groups.

The lead mounts :data:`agents_app` in ``bot/cli.py`` as ``kefu agents``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from bot.agents.models import Role
from bot.agents.registry import AgentError, add_agent, list_agents, remove_agent
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.store.db import Database, StoreUnavailable

agents_app = typer.Typer(
    help="Agents who answer escalated chats in Telegram.", no_args_is_help=True
)

T = TypeVar("T")
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Settings file (default: $KEFU_CONFIG or config.yml)."),
]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"kefu: {exc}", err=True)
        raise typer.Exit(2) from None


def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings.database.url)
        try:
            if db.is_sqlite or settings.database.auto_migrate:
                db.upgrade()
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except StoreUnavailable as exc:
        typer.echo(f"kefu: {exc}", err=True)
        raise typer.Exit(3) from None


@agents_app.command("add")
def add(
    telegram_user_id: Annotated[int, typer.Argument(help="The agent's Telegram user id.")],
    name: Annotated[str, typer.Option("--name", help="Name customers and colleagues see.")],
    role: Annotated[Role, typer.Option("--role", help="agent or supervisor.")] = Role.AGENT,
    config: ConfigOption = None,
) -> None:
    """Register an agent (or update one's name and role)."""
    settings = _settings(config)
    now = SystemClock(settings.tz).now()
    try:
        agent = _with_db(
            settings, lambda db: add_agent(db, telegram_user_id, name=name, role=role, now=now)
        )
    except AgentError as exc:
        typer.echo(f"kefu: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{agent.name} ({agent.telegram_user_id}) is registered as {agent.role}")


@agents_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include removed agents.")] = False,
    config: ConfigOption = None,
) -> None:
    """List registered agents."""
    settings = _settings(config)
    agents = _with_db(settings, lambda db: list_agents(db, include_inactive=all_))
    if not agents:
        typer.echo("no agents registered (kefu agents add TELEGRAM_USER_ID --name NAME)")
        return
    for agent in agents:
        status = "" if agent.active else "  (removed)"
        username = f" @{agent.username}" if agent.username else ""
        typer.echo(
            f"{agent.telegram_user_id:>14}  {agent.role:<10}  {agent.name}{username}{status}"
        )


@agents_app.command("remove")
def remove(
    telegram_user_id: Annotated[int, typer.Argument(help="The agent's Telegram user id.")],
    config: ConfigOption = None,
) -> None:
    """Remove an agent (kept in the audit trail, no longer allowed to act)."""
    settings = _settings(config)
    now = SystemClock(settings.tz).now()
    removed = _with_db(settings, lambda db: remove_agent(db, telegram_user_id, now=now))
    if not removed:
        typer.echo(f"kefu: no active agent with Telegram id {telegram_user_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"agent {telegram_user_id} removed")
