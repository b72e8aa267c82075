"""``kefu tickets list|show|resolve|reopen``: the tickets commands (mounted by ``bot/cli.py``)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clitools import ConfigOption, fail, when, with_db
from bot.clock import Clock
from bot.config import Settings
from bot.followups.service import list_followups
from bot.followups.sla import SURVEY_KINDS
from bot.logs import mask_number, mask_phones
from bot.sla.explain import explain_sla
from bot.sla.state import SlaState
from bot.store.db import Database
from bot.store.models import Contact, Ticket, TicketEvent
from bot.tickets.lifecycle import TicketStateError, reopen_ticket, resolve_ticket

NumberArgument = Annotated[str, typer.Argument(help="Ticket number, e.g. R-20261127-0001.")]
ActorOption = Annotated[str, typer.Option("--by", help="Who does it (audit trail).")]

tickets_app = typer.Typer(help="Tickets: list, show, resolve, reopen.", no_args_is_help=True)


async def find_ticket(session: AsyncSession, number: str, *, lock: bool = False) -> Ticket:
    """The ticket ``number`` (row-locked on PostgreSQL when ``lock``), or TicketStateError."""
    stmt = select(Ticket).where(Ticket.number == number.strip().upper())
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    ticket = (await session.execute(stmt)).scalar_one_or_none()
    if ticket is None:
        raise TicketStateError(f"no ticket {number.strip().upper()}")
    return ticket


def run_ticket_command(
    config: Path | None, work: Callable[[Database, Settings, Clock], Awaitable[Any]]
) -> None:
    """Run ``work``; a ticket that cannot make the change is one line and exit 1."""
    try:
        with_db(config, work)
    except TicketStateError as exc:
        fail(str(exc), 1)


@tickets_app.command("list")
def tickets_list(
    status: Annotated[
        str | None, typer.Option(help="Only this status (open, resolved...).")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind (repair, complaint...).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 30,
    config: ConfigOption = None,
) -> None:
    """List tickets, newest first, with their next deadline."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        stmt = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(Ticket.status == status)
        if kind:
            stmt = stmt.where(Ticket.kind == kind)
        async with db.session() as session:
            tickets = (await session.execute(stmt)).scalars().all()
        if not tickets:
            typer.echo("no tickets")
            return
        typer.echo(
            f"{'number':<18} {'kind':<10} {'category':<12} {'prio':<7} {'status':<17} "
            f"{'opened':<17} next deadline"
        )
        for t in tickets:
            typer.echo(
                f"{t.number:<18} {t.kind:<10} {(t.category or '-'):<12} {t.priority:<7} "
                f"{t.status:<17} {when(t.created_at, settings):<17} {_next_deadline(t, settings)}"
            )

    with_db(config, work)


def _next_deadline(ticket: Ticket, settings: Settings) -> str:
    candidates = [
        (label, due)
        for label, due, met in (
            ("first response", ticket.due_first_response, ticket.first_response_at),
            ("resolution", ticket.due_resolution, ticket.resolved_at),
            ("call-back", ticket.due_callback, SlaState.of(ticket).callback_done_at),
        )
        if due is not None and met is None
    ]
    if not candidates:
        return "paused" if ticket.sla_paused_at else "-"
    label, due = min(candidates, key=lambda c: c[1])
    return f"{label} {when(due, settings)}"


@tickets_app.command("show")
def tickets_show(
    number: NumberArgument,
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal", help="Show the customer's phone number in full (for a call-back; audited)."
        ),
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who reveals (audit trail; default: OS user).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Show one ticket, its deadlines and its audit trail (phone numbers masked)."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        region = settings.default_region

        def shown(text: str) -> str:
            return text if reveal else mask_phones(text, region)

        if reveal:
            phone = await reveal_phone(db, number, by or _os_user(), clock.now())
        async with db.session() as session:
            ticket = await find_ticket(session, number)
            events = (
                (
                    await session.execute(
                        select(TicketEvent)
                        .where(TicketEvent.ticket_id == ticket.id)
                        .order_by(TicketEvent.id)
                    )
                )
                .scalars()
                .all()
            )
            followups = await list_followups(session, ticket_id=ticket.id)
        if not reveal:
            phone = mask_number(ticket.contact_phone) if ticket.contact_phone else None
        typer.echo(explain_sla(ticket, followups, settings, clock.now()))
        typer.echo(f"unit: {ticket.unit or '-'}   phone: {phone or '-'}")
        typer.echo(f"description: {shown(ticket.description or '-')}")
        if ticket.survey_score is not None or ticket.survey_fixed is not None:
            typer.echo(
                f"survey: score {ticket.survey_score}  fixed {ticket.survey_fixed}  "
                f"comment {shown(ticket.survey_comment or '-')}"
            )
        typer.echo("history:")
        for e in events:
            data = shown(str(e.data)) if e.data else ""
            typer.echo(f"  {when(e.created_at, settings)}  {e.actor:<14} {e.action:<16} {data}")

    run_ticket_command(config, work)


def _os_user() -> str:
    """The operating-system user running the command (the default ``--by`` of a reveal)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER in a container
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


async def reveal_phone(db: Database, number: str, by: str, now: datetime) -> str | None:
    """The customer's full phone number for staff, with a ``phone_revealed`` audit entry.

    The ticket's number, else the contact's (never for an anonymous ticket). The audit entry
    is written even when there is no number, so every look is on record.
    """
    async with db.write() as session:
        ticket = await find_ticket(session, number, lock=True)
        phone = ticket.contact_phone
        if phone is None and not ticket.anonymous and ticket.contact_id is not None:
            contact = await session.get(Contact, ticket.contact_id)
            phone = contact.phone if contact is not None else None
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                actor=f"staff:{by}"[:64],
                action="phone_revealed",
                data={"by": by, "found": phone is not None},
                created_at=now,
            )
        )
    return phone


@tickets_app.command("resolve")
def tickets_resolve(
    number: NumberArgument,
    note: Annotated[str | None, typer.Option(help="What was done.")] = None,
    by: ActorOption = "cli",
    config: ConfigOption = None,
) -> None:
    """Resolve a ticket; repairs get their call-back survey scheduled."""
    # The whole app's assembly (actions, dialogue...): only the commands that change a ticket
    # need its listeners, and `tickets list` or `show` need not import it (~0.5 s CPU).
    from bot.app import install_events

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        install_events(db, settings)  # the listeners of TicketResolved run in this process
        now = clock.now()
        async with db.write() as session:
            ticket = await find_ticket(session, number, lock=True)
            await resolve_ticket(
                session, ticket, settings=settings, now=now, actor=by, note=note or ""
            )
            scheduled = await list_followups(
                session, ticket_id=ticket.id, statuses=["pending"], kinds=SURVEY_KINDS
            )
        typer.echo(f"{ticket.number} resolved at {when(now, settings)}")
        if ticket.due_callback is not None:
            typer.echo(f"call-back due by {when(ticket.due_callback, settings)}")
        for f in scheduled:
            typer.echo(f"  scheduled {f.kind} for {when(f.due_at, settings)}")

    run_ticket_command(config, work)


@tickets_app.command("reopen")
def tickets_reopen(
    number: NumberArgument,
    reason: Annotated[str | None, typer.Option(help="Why it is reopened.")] = None,
    by: ActorOption = "cli",
    config: ConfigOption = None,
) -> None:
    """Reopen a resolved ticket (its pending survey lapses)."""
    from bot.app import install_events  # here, not at import (see tickets_resolve)

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        install_events(db, settings)  # TicketReopened: the agents' topic reopens (bot.app)
        async with db.write() as session:
            ticket = await find_ticket(session, number, lock=True)
            await reopen_ticket(
                session, ticket, settings=settings, now=clock.now(), actor=by, reason=reason or ""
            )
        typer.echo(f"{ticket.number} reopened")

    run_ticket_command(config, work)
