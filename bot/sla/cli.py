"""``kefu sla show|pause|resume|recompute``: SLA deadlines (mounted by ``bot/cli.py``)."""

from __future__ import annotations

import typer

from bot.clitools import ConfigOption
from bot.clock import Clock
from bot.config import Settings
from bot.followups.deadlines import apply_deadlines, pause_sla, resume_sla
from bot.followups.service import list_followups
from bot.sla.explain import explain_sla
from bot.store.db import Database
from bot.tickets.cli import ActorOption, NumberArgument, find_ticket, run_ticket_command

sla_app = typer.Typer(help="SLA deadlines of a ticket.", no_args_is_help=True)


@sla_app.command("show")
def sla_show(number: NumberArgument, config: ConfigOption = None) -> None:
    """Explain each deadline of a ticket: the policy, the calendar, pauses, follow-ups."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.session() as session:
            ticket = await find_ticket(session, number)
            followups = await list_followups(session, ticket_id=ticket.id)
        typer.echo(explain_sla(ticket, followups, settings, clock.now()))

    run_ticket_command(config, work)


@sla_app.command("pause")
def sla_pause(number: NumberArgument, by: ActorOption = "cli", config: ConfigOption = None) -> None:
    """Stop a ticket's SLA clock (waiting on the customer)."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await find_ticket(session, number, lock=True)
            changed = await pause_sla(session, ticket, settings, clock.now(), actor=by)
        typer.echo(f"{ticket.number} {'paused' if changed else 'was already paused'}")

    run_ticket_command(config, work)


@sla_app.command("resume")
def sla_resume(
    number: NumberArgument, by: ActorOption = "cli", config: ConfigOption = None
) -> None:
    """Restart a ticket's SLA clock; deadlines move by the paused time."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await find_ticket(session, number, lock=True)
            changed = await resume_sla(session, ticket, settings, clock.now(), actor=by)
        typer.echo(f"{ticket.number} {'resumed' if changed else 'was not paused'}")

    run_ticket_command(config, work)


@sla_app.command("recompute")
def sla_recompute(number: NumberArgument, config: ConfigOption = None) -> None:
    """Recompute a ticket's deadlines from the current policies."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await find_ticket(session, number, lock=True)
            await apply_deadlines(session, ticket, settings, clock.now())
        typer.echo(f"{ticket.number} deadlines recomputed")

    run_ticket_command(config, work)
