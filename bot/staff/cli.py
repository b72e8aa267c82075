"""``kefu staff …`` and ``kefu technicians …``: staff actions from the command line (mounted
by ``bot/cli.py``). Each command is one call of :mod:`bot.staff.service` in one transaction,
with the domain events' listeners installed, so it has the same effects as from the agents'
group. ``--by NAME`` says who acted (audited as ``staff:NAME``)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clitools import ConfigOption, fail, when
from bot.clock import Clock
from bot.config import Settings
from bot.logs import mask_number
from bot.staff import service
from bot.staff.service import StaffError
from bot.staff.technicians import TechnicianError, add_technician, list_technicians
from bot.store.db import Database
from bot.store.models import Ticket
from bot.tickets.cli import NumberArgument, find_ticket, run_ticket_command
from bot.tickets.lifecycle import resolve_ticket

staff_app = typer.Typer(
    help="Staff actions on tickets: open, contact, callback, category, priority, assign, "
    "resolve, cancel, close.",
    no_args_is_help=True,
)
technicians_app = typer.Typer(help="The technician register.", no_args_is_help=True)

ByOption = Annotated[
    str | None, typer.Option("--by", help="Who acts (audit trail; default: the OS user).")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (audit trail).")]


def _actor(by: str | None) -> str:
    if by is None or not by.strip():
        try:
            by = getpass.getuser()
        except (KeyError, OSError):
            by = f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"staff:{by.strip()}"[:64]


def _run(config: Path | None, work: Callable[[Database, Settings, Clock], Awaitable[None]]) -> None:
    """Run ``work`` with the listeners installed; bad input is one line and exit 1."""
    # Here, not at import: the app's assembly (~0.5 s CPU) is not needed by `kefu staff add`
    # or the technician register, which share this module's Typer apps.
    from bot.app import install_events

    async def with_events(db: Database, settings: Settings, clock: Clock) -> None:
        install_events(db, settings)
        await work(db, settings, clock)

    try:
        run_ticket_command(config, with_events)
    except (StaffError, TechnicianError) as exc:
        fail(str(exc), 1)


def _on_ticket(
    config: Path | None,
    number: str,
    act: Callable[[AsyncSession, Ticket, Settings, Clock], Awaitable[str]],
) -> None:
    """Lock the ticket, act on it in one transaction, print what ``act`` says."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await find_ticket(session, number, lock=True)
            said = await act(session, ticket, settings, clock)
        typer.echo(said)

    _run(config, work)


@staff_app.command("open")
def staff_open(
    description: Annotated[str, typer.Option("--description", "-d", help="What is wrong.")],
    kind: Annotated[str, typer.Option(help="repair, complaint, inquiry...")] = "repair",
    channel: Annotated[str, typer.Option(help="phone or walk_in.")] = "phone",
    unit: Annotated[str | None, typer.Option(help="The flat, e.g. 'B座12樓A室'.")] = None,
    phone: Annotated[str | None, typer.Option(help="The customer's phone number.")] = None,
    category: Annotated[str | None, typer.Option(help="e.g. water_leak, noise.")] = None,
    priority: Annotated[str, typer.Option(help="urgent, high, normal, low.")] = "normal",
    language: Annotated[str | None, typer.Option(help="zh-Hant, zh-Hans or en.")] = None,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Open a ticket for a customer who called or walked in."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await service.open_for_customer(
                session, settings=settings, now=clock.now(), actor=_actor(by), kind=kind,
                description=description, channel=channel, unit=unit, phone=phone,
                category=category, priority=priority, language=language,
            )  # fmt: skip
        typer.echo(f"{ticket.number} opened ({ticket.kind}, {channel})")
        if ticket.due_resolution is not None:
            typer.echo(f"resolution due by {when(ticket.due_resolution, settings)}")

    _run(config, work)


@staff_app.command("contact")
def staff_contact(
    number: NumberArgument,
    channel: Annotated[str, typer.Option(help="phone, walk_in or visit.")] = "phone",
    note: Annotated[str, typer.Option(help="What was said (audit trail).")] = "",
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Record that staff reached the customer (first contact)."""

    async def act(session: AsyncSession, ticket: Ticket, settings: Settings, clock: Clock) -> str:
        await service.record_contact(
            session, ticket, settings=settings, now=clock.now(), actor=_actor(by),
            channel=channel, note=note,
        )  # fmt: skip
        return f"{ticket.number}: contact by {channel} recorded"

    _on_ticket(config, number, act)


@staff_app.command("callback")
def staff_callback(
    number: NumberArgument,
    score: Annotated[int, typer.Option(help="The customer's rating, 1 to 5 (5 is best).")],
    fixed: Annotated[
        bool | None, typer.Option("--fixed/--not-fixed", help="Is the problem fixed?")
    ] = None,
    comment: Annotated[str, typer.Option(help="What the customer said.")] = "",
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Record a phone call-back (the same effect as the chat survey)."""

    async def act(session: AsyncSession, ticket: Ticket, settings: Settings, clock: Clock) -> str:
        result = await service.record_callback(
            session, ticket, settings=settings, now=clock.now(), actor=_actor(by),
            score=score, fixed=fixed, comment=comment,
        )  # fmt: skip
        if result.reopened:
            due = result.rework_due
            until = f", rework due by {when(due, settings)}" if due else ""
            return f"{ticket.number}: call-back recorded; reopened{until}"
        return f"{ticket.number}: call-back recorded; {ticket.status}"

    _on_ticket(config, number, act)


@staff_app.command("category")
def staff_category(
    number: NumberArgument,
    category: Annotated[str, typer.Argument(help="The new category, e.g. water_leak.")],
    reason: ReasonOption = "",
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Change the category (deadlines are recomputed; `kefu sla show` explains)."""

    async def act(session: AsyncSession, ticket: Ticket, settings: Settings, clock: Clock) -> str:
        await service.change_category(
            session, ticket, category, settings=settings, now=clock.now(), actor=_actor(by),
            reason=reason,
        )  # fmt: skip
        return f"{ticket.number}: category {category}; {_deadlines(ticket, settings)}"

    _on_ticket(config, number, act)


@staff_app.command("priority")
def staff_priority(
    number: NumberArgument,
    priority: Annotated[str, typer.Argument(help="urgent, high, normal or low.")],
    reason: ReasonOption = "",
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Change the priority (deadlines are recomputed; `kefu sla show` explains)."""

    async def act(session: AsyncSession, ticket: Ticket, settings: Settings, clock: Clock) -> str:
        await service.change_priority(
            session, ticket, priority, settings=settings, now=clock.now(), actor=_actor(by),
            reason=reason,
        )  # fmt: skip
        return f"{ticket.number}: priority {priority}; {_deadlines(ticket, settings)}"

    _on_ticket(config, number, act)


def _deadlines(ticket: Ticket, settings: Settings) -> str:
    return (
        f"first response due {when(ticket.due_first_response, settings)}, "
        f"resolution due {when(ticket.due_resolution, settings)}"
    )


@staff_app.command("assign")
def staff_assign(
    number: NumberArgument,
    technician: Annotated[str, typer.Argument(help="A name from `kefu technicians list`.")],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Send a technician (told in Telegram when linked and the agents' desk runs)."""

    async def act(session: AsyncSession, ticket: Ticket, settings: Settings, clock: Clock) -> str:
        done = await service.assign_technician(
            session, ticket, technician, settings=settings, now=clock.now(), actor=_actor(by)
        )
        told = "told in Telegram" if done.told else "not linked to Telegram: tell them yourself"
        return f"{ticket.number}: assigned to {done.technician.name} ({told})"

    _on_ticket(config, number, act)


@staff_app.command("resolve")
def staff_resolve(
    number: NumberArgument,
    outcome: Annotated[
        str, typer.Option(help="What the customer is told (a complaint's outcome).")
    ] = "",
    note: Annotated[str, typer.Option(help="Internal note (audit trail only).")] = "",
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Resolve a ticket: a call-back follows; a complainant is told the outcome."""

    async def act(session: AsyncSession, ticket: Ticket, settings: Settings, clock: Clock) -> str:
        await resolve_ticket(
            session, ticket, settings=settings, now=clock.now(), actor=_actor(by),
            note=note, outcome=outcome.strip()[:1000],
        )  # fmt: skip
        return f"{ticket.number} resolved at {when(clock.now(), settings)}"

    _on_ticket(config, number, act)


@staff_app.command("cancel")
def staff_cancel(
    number: NumberArgument,
    reason: ReasonOption = "",
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Cancel an open ticket (needs --reason); its follow-ups stop."""

    async def act(session: AsyncSession, ticket: Ticket, settings: Settings, clock: Clock) -> str:
        await service.cancel(session, ticket, now=clock.now(), actor=_actor(by), reason=reason)
        return f"{ticket.number} cancelled"

    _on_ticket(config, number, act)


@staff_app.command("close")
def staff_close(
    number: NumberArgument,
    reason: ReasonOption = "",
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Close a ticket for good; pending call-backs and alerts stop."""

    async def act(session: AsyncSession, ticket: Ticket, settings: Settings, clock: Clock) -> str:
        await service.close(session, ticket, now=clock.now(), actor=_actor(by), reason=reason)
        return f"{ticket.number} closed"

    _on_ticket(config, number, act)


@technicians_app.command("add")
def technicians_add(
    name: Annotated[str, typer.Argument(help="Name (unique; adding it again updates it).")],
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    trade: Annotated[str | None, typer.Option(help="e.g. plumbing, electrical, lift.")] = None,
    telegram: Annotated[
        int | None, typer.Option(help="Telegram chat id, to tell them of assignments.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Register (or update) a technician."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            row = await add_technician(
                session, name, now=clock.now(), region=settings.default_region, phone=phone,
                trade=trade, telegram_chat_id=telegram,
            )  # fmt: skip
        typer.echo(f"technician {row.name} registered")

    _run(config, work)


@technicians_app.command("list")
def technicians_list(config: ConfigOption = None) -> None:
    """Active technicians (phones masked)."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.session() as session:
            rows = await list_technicians(session)
        if not rows:
            typer.echo("no technicians")
            return
        typer.echo(f"{'name':<20} {'trade':<14} {'phone':<14} telegram")
        for t in rows:
            phone = mask_number(t.phone) if t.phone else "-"
            linked = "yes" if t.telegram_chat_id is not None else "-"
            typer.echo(f"{t.name:<20} {(t.trade or '-'):<14} {phone:<14} {linked}")

    _run(config, work)
