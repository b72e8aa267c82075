"""``kefu tickets list|show|resolve|reopen``, ``kefu sla show|pause|resume|recompute``,
``kefu followups list|work|prune`` (Typer sub-apps).

The lead mounts them in ``bot/cli.py``::

    from bot.sla.cli import followups_app, sla_app, tickets_app
    app.add_typer(tickets_app, name="tickets")
    app.add_typer(sla_app, name="sla")
    app.add_typer(followups_app, name="followups")

Until then: ``python -m bot.sla.cli tickets list``.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, SystemClock
from bot.config import ConfigError, Settings, load_settings, parse_duration
from bot.followups.service import list_followups, prune
from bot.followups.sla import SURVEY_KINDS
from bot.logs import mask_number, mask_phones
from bot.sla.explain import explain_sla
from bot.sla.policies import apply_deadlines, pause_sla, resume_sla
from bot.sla.state import SlaState
from bot.store.db import Database, StoreUnavailable
from bot.store.models import Contact, Ticket, TicketEvent
from bot.tickets.lifecycle import TicketStateError, reopen_ticket, resolve_ticket

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (default: $KEFU_CONFIG or config.yml)."),
]
NumberArgument = Annotated[str, typer.Argument(help="Ticket number, e.g. R-20261127-0001.")]
ActorOption = Annotated[str, typer.Option("--by", help="Who does it (audit trail).")]

tickets_app = typer.Typer(help="Tickets: list, show, resolve, reopen.", no_args_is_help=True)
sla_app = typer.Typer(help="SLA deadlines of a ticket.", no_args_is_help=True)
followups_app = typer.Typer(help="Scheduled follow-ups and their worker.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"kefu: {message}", err=True)
    raise typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        _fail(str(exc))


def _with_db(config: Path | None, work: Callable[[Database, Settings, Clock], Awaitable[T]]) -> T:
    """Run ``work`` against the configured database (migrated first where allowed)."""
    settings = _settings(config)

    async def main() -> T:
        db = Database(settings.database.url, echo=settings.database.echo)
        try:
            if db.is_sqlite or settings.database.auto_migrate:
                await asyncio.to_thread(db.upgrade)
            return await work(db, settings, SystemClock(settings.tz))
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except StoreUnavailable as exc:
        _fail(str(exc), 3)


async def _ticket(session: AsyncSession, number: str, *, lock: bool = False) -> Ticket:
    stmt = select(Ticket).where(Ticket.number == number.strip().upper())
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    ticket = (await session.execute(stmt)).scalar_one_or_none()
    if ticket is None:
        raise TicketStateError(f"no ticket {number.strip().upper()}")
    return ticket


def _when(dt: datetime | None, settings: Settings) -> str:
    return "-" if dt is None else f"{dt.astimezone(settings.tz):%Y-%m-%d %H:%M}"


# --- tickets -------------------------------------------------------------------------------------


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
                f"{t.status:<17} {_when(t.created_at, settings):<17} {_next_deadline(t, settings)}"
            )

    _with_db(config, work)


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
    return f"{label} {_when(due, settings)}"


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
            ticket = await _ticket(session, number)
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
            typer.echo(f"  {_when(e.created_at, settings)}  {e.actor:<14} {e.action:<16} {data}")

    _run_ticket_command(config, work)


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
        ticket = await _ticket(session, number, lock=True)
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


def _run_ticket_command(
    config: Path | None, work: Callable[[Database, Settings, Clock], Awaitable[Any]]
) -> None:
    try:
        _with_db(config, work)
    except TicketStateError as exc:
        _fail(str(exc), 1)


@tickets_app.command("resolve")
def tickets_resolve(
    number: NumberArgument,
    note: Annotated[str | None, typer.Option(help="What was done.")] = None,
    by: ActorOption = "cli",
    config: ConfigOption = None,
) -> None:
    """Resolve a ticket; repairs get their call-back survey scheduled."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        now = clock.now()
        async with db.write() as session:
            ticket = await _ticket(session, number, lock=True)
            await resolve_ticket(
                session, ticket, settings=settings, now=now, actor=by, note=note or ""
            )
            scheduled = await list_followups(
                session, ticket_id=ticket.id, statuses=["pending"], kinds=SURVEY_KINDS
            )
        typer.echo(f"{ticket.number} resolved at {_when(now, settings)}")
        if ticket.due_callback is not None:
            typer.echo(f"call-back due by {_when(ticket.due_callback, settings)}")
        for f in scheduled:
            typer.echo(f"  scheduled {f.kind} for {_when(f.due_at, settings)}")

    _run_ticket_command(config, work)


@tickets_app.command("reopen")
def tickets_reopen(
    number: NumberArgument,
    reason: Annotated[str | None, typer.Option(help="Why it is reopened.")] = None,
    by: ActorOption = "cli",
    config: ConfigOption = None,
) -> None:
    """Reopen a resolved ticket (its pending survey lapses)."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await _ticket(session, number, lock=True)
            await reopen_ticket(
                session, ticket, settings=settings, now=clock.now(), actor=by, reason=reason or ""
            )
        typer.echo(f"{ticket.number} reopened")

    _run_ticket_command(config, work)


# --- sla -----------------------------------------------------------------------------------------


@sla_app.command("show")
def sla_show(number: NumberArgument, config: ConfigOption = None) -> None:
    """Explain each deadline of a ticket: the policy, the calendar, pauses, follow-ups."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.session() as session:
            ticket = await _ticket(session, number)
            followups = await list_followups(session, ticket_id=ticket.id)
        typer.echo(explain_sla(ticket, followups, settings, clock.now()))

    _run_ticket_command(config, work)


@sla_app.command("pause")
def sla_pause(number: NumberArgument, by: ActorOption = "cli", config: ConfigOption = None) -> None:
    """Stop a ticket's SLA clock (waiting on the customer)."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await _ticket(session, number, lock=True)
            changed = await pause_sla(session, ticket, settings, clock.now(), actor=by)
        typer.echo(f"{ticket.number} {'paused' if changed else 'was already paused'}")

    _run_ticket_command(config, work)


@sla_app.command("resume")
def sla_resume(
    number: NumberArgument, by: ActorOption = "cli", config: ConfigOption = None
) -> None:
    """Restart a ticket's SLA clock; deadlines move by the paused time."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await _ticket(session, number, lock=True)
            changed = await resume_sla(session, ticket, settings, clock.now(), actor=by)
        typer.echo(f"{ticket.number} {'resumed' if changed else 'was not paused'}")

    _run_ticket_command(config, work)


@sla_app.command("recompute")
def sla_recompute(number: NumberArgument, config: ConfigOption = None) -> None:
    """Recompute a ticket's deadlines from the current policies."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            ticket = await _ticket(session, number, lock=True)
            await apply_deadlines(session, ticket, settings, clock.now())
        typer.echo(f"{ticket.number} deadlines recomputed")

    _run_ticket_command(config, work)


# --- follow-ups ----------------------------------------------------------------------------------


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
            ticket_id = (await _ticket(session, ticket)).id if ticket else None
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
                f"{_when(r.due_at, settings):<17} {r.attempts}"
                f"{'  ' + r.last_error if r.last_error else ''}"
            )

    _run_ticket_command(config, work)


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
        _fail(str(exc))

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.write() as session:
            deleted = await prune(session, clock.now() - age)
        typer.echo(f"{deleted} finished follow-ups deleted")

    _with_db(config, work)


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
    from bot.followups.standalone import standalone_worker
    from bot.logs import setup_logging
    from bot.nlu import ModelError

    settings = _settings(config)
    setup_logging(settings.log_level)

    async def main() -> None:
        try:
            app = build_app(settings, clock=SystemClock(settings.tz))
        except (ModelError, DomainError) as exc:
            _fail(str(exc), 4)
        try:
            worker = standalone_worker(app)
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
        _fail(str(exc), 3)


def main() -> None:
    """``python -m bot.sla.cli``: the three sub-apps until the lead mounts them."""
    root = typer.Typer(no_args_is_help=True, add_completion=False)
    root.add_typer(tickets_app, name="tickets")
    root.add_typer(sla_app, name="sla")
    root.add_typer(followups_app, name="followups")
    root()


if __name__ == "__main__":
    main()
