"""``kefu followups list|prune|work``: scheduled follow-ups and their worker (mounted by
``bot/cli.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Annotated

import typer
from sqlalchemy import select

from bot.clitools import ConfigOption, fail, settings_of, when, with_db
from bot.clock import Clock, SystemClock
from bot.config import Settings, parse_duration
from bot.followups.service import list_followups, prune
from bot.store.db import Database, StoreUnavailable
from bot.store.models import Ticket
from bot.tickets.cli import find_ticket, run_ticket_command

followups_app = typer.Typer(help="Scheduled follow-ups and their worker.", no_args_is_help=True)


@followups_app.command("list")
def followups_list(
    ticket: Annotated[str | None, typer.Option(help="Only this ticket's.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, claimed, done, cancelled or failed.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, by due time.")] = 50,
    config: ConfigOption = None,
) -> None:
    """List follow-ups by due time."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.session() as session:
            ticket_id = (await find_ticket(session, ticket)).id if ticket else None
            rows = await list_followups(
                session,
                ticket_id=ticket_id,
                statuses=[status] if status else None,
                limit=limit,
            )
            numbers = {
                t.id: t.number
                for t in (
                    await session.execute(
                        select(Ticket).where(Ticket.id.in_({r.ticket_id for r in rows}))
                    )
                ).scalars()
            }
        if not rows:
            typer.echo("no follow-ups")
            return
        typer.echo(f"{'id':<7} {'ticket':<18} {'kind':<16} {'status':<10} {'due':<17} attempts")
        for r in rows:
            typer.echo(
                f"{r.id:<7} {numbers.get(r.ticket_id or 0, '-'):<18} {r.kind:<16} {r.status:<10} "
                f"{when(r.due_at, settings):<17} {r.attempts}"
                f"{'  ' + r.last_error if r.last_error else ''}"
            )

    run_ticket_command(config, work)


@followups_app.command("prune")
def followups_prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age of finished follow-ups to delete, e.g. 90d.")
    ] = "90d",
    config: ConfigOption = None,
) -> None:
    """Delete finished (done, cancelled, failed) follow-ups older than ``--older-than``."""
    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        fail(str(exc))

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            deleted = await prune(session, clock.now() - age)
        typer.echo(f"{deleted} finished follow-ups deleted")

    with_db(config, work)


@followups_app.command("work")
def followups_work(
    once: Annotated[bool, typer.Option(help="Run what is due now, then exit.")] = False,
    config: ConfigOption = None,
) -> None:
    """Run a follow-up worker as its own process (every `kefu run` runs one too): call-back
    surveys, and staff alerts to the log when no agents' group is configured (with groups,
    `kefu run` posts them there)."""
    from bot.app import build_app
    from bot.dialogue.domain import DomainError
    from bot.logs import setup_logging
    from bot.nlu import ModelError

    settings = settings_of(config)
    setup_logging(settings.log_level)

    async def main() -> None:
        try:
            app = build_app(settings, clock=SystemClock(settings.tz))
        except (ModelError, DomainError) as exc:
            fail(str(exc), 4)
        try:
            worker = app.standalone_followup_worker()
            if once:
                typer.echo(f"{await worker.run_until_idle()} follow-ups run")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            kinds = ", ".join(sorted(worker.handlers))
            logging.getLogger(__name__).info("follow-up worker %s: %s", worker.worker_id, kinds)
            await worker.run_forever(stop)
        finally:
            await app.close()

    try:
        asyncio.run(main())
    except StoreUnavailable as exc:
        fail(str(exc), 3)
