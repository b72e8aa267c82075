"""The console's pages and form actions. Each handler: who is asking (the signed session),
may they (role, CSRF on every POST), then one service call and a redirect or a page.

Pages answer a missing session with a redirect to the login page; the API, the live stream
and row fragments answer 401, so a script never mistakes the login page for data.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from bot.config import LANGUAGES
from bot.sla.explain import explain_sla
from bot.staff.service import StaffError
from bot.staff.technicians import list_technicians
from bot.store.models import Ticket, TicketStatus
from bot.tickets.categories import categories_for
from bot.tickets.lifecycle import TicketStateError
from bot.web import accounts, files
from bot.web.models import StaffAccount
from bot.web.ownership import OwnershipError, colleagues, owner_of
from bot.web.pages import (
    Staff,
    account_ref,
    audit_action,
    console_of,
    current_staff,
    error_page,
    guest_language,
    iso_time,
    render,
    unauthenticated,
)
from bot.web.queries import FILTERS, inbox, ticket_page
from bot.web.replies import NoConversation
from bot.web.security import (
    client_address,
    csrf_ok,
    start_session,
)
from bot.web.ticket_actions import ACTIONS, DONE, REFUSED, Act, EmptyText

TEXT_LIMIT = 4000


# --- login -----------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    """The login form."""
    return render(request, "login.html", None)


async def login_submit(request: Request) -> Response:
    """Check the password (rate-limited and audited) and start a session."""
    console = console_of(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return render(
            request, "login.html", None, 403, error=console.text("csrf", guest_language(request))
        )
    web = console.settings.web
    async with console.db.write() as session:
        result = await accounts.login(
            session,
            email=str(form.get("email") or ""),
            password=str(form.get("password") or ""),
            client=client_address(request),
            now=console.clock.now(),
            attempts=web.login_attempts,
            window=web.login_window,
            hashing=web.password_hashing,
        )
    language = guest_language(request)
    if result.refused:
        minutes = math.ceil(web.login_window.total_seconds() / 60)
        error = console.text("login_refused", language, minutes=minutes)
        return render(request, "login.html", None, 429, error=error)
    if result.account is None:
        return render(
            request, "login.html", None, 401, error=console.text("login_failed", language)
        )
    start_session(request, result.account)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    """End the session (a POST with the CSRF token, so no page can log someone out)."""
    form = await request.form()
    if csrf_ok(request, form):
        staff = await current_staff(request)
        if staff is not None:
            await audit_action(request, staff, "logout")
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def set_language(request: Request) -> Response:
    """The staff member's language for the console (kept on the account)."""
    form = await request.form()
    language = str(form.get("language") or "")
    if not csrf_ok(request, form) or language not in LANGUAGES:
        return PlainTextResponse("bad request", status_code=400)
    staff = await current_staff(request)
    if staff is None:
        request.session["language"] = language
        return RedirectResponse("/login", status_code=303)
    console = console_of(request)
    async with console.db.write() as session:
        account = await session.get(StaffAccount, staff.id)
        if account is not None:
            account.language = language
    back = str(form.get("next") or "/")
    return RedirectResponse(
        back if back.startswith("/") and not back.startswith("//") else "/", status_code=303
    )


# --- inbox -----------------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip()[:100] for k in FILTERS}


async def _inbox(request: Request, staff: Staff) -> Any:
    console = console_of(request)
    async with console.db.session() as session:
        return await inbox(
            session, _filters(request), console.clock.now(), console.settings.web.inbox_limit,
            me=staff.id,
        )  # fmt: skip


async def inbox_page(request: Request) -> Response:
    """Open tickets, the most urgent first, with live countdowns."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    box = await _inbox(request, staff)
    return render(
        request, "inbox.html", staff, inbox=box, filters=_filters(request),
        kinds=sorted({*box.by_kind, "repair", "complaint", "inquiry", "order", "payment"}),
        statuses=[str(s) for s in TicketStatus.OPEN_STATES],
        priorities=["urgent", "high", "normal", "low"], now=console_of(request).clock.now(),
    )  # fmt: skip


async def inbox_rows(request: Request) -> Response:
    """The inbox's table body alone (the live view swaps it in)."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    box = await _inbox(request, staff)
    return render(request, "rows.html", staff, inbox=box, now=console_of(request).clock.now())


async def inbox_json(request: Request) -> Response:
    """The inbox as JSON (for scripts and the tests)."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    box = await _inbox(request, staff)
    rows = [
        {**asdict(r), "created_at": iso_time(r.created_at), "next_due": iso_time(r.next_due)}
        for r in box.rows
    ]
    return JSONResponse({"total": box.total, "overdue": box.overdue, "rows": rows})


async def events(request: Request) -> Response:
    """Server-sent events: ``changed`` whenever a ticket or a message changed anywhere."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    live = console_of(request).live

    async def stream() -> AsyncIterator[str]:
        seen = live.version
        yield "retry: 3000\n\n"
        while not live.closed and not await request.is_disconnected():
            version = await live.next_change(seen, timeout=15.0)
            if version != seen:
                seen = version
                yield f"event: changed\ndata: {json.dumps({'version': version})}\n\n"
            else:
                yield ": keep-alive\n\n"

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


# --- one ticket ------------------------------------------------------------------------------


async def ticket_view(request: Request) -> Response:
    """A ticket: fields, deadlines explained, conversation, audit trail, actions."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    console = console_of(request)
    async with console.db.session() as session:
        page = await ticket_page(session, request.path_params["number"])
        technicians = [t.name for t in await list_technicians(session)]
        owner = await owner_of(session, page.ticket.id) if page is not None else None
        staff_list = [(c.email, c.name) for c in await colleagues(session)]
    if page is None:
        return render(
            request, "error.html", staff, 404, message=console.text("not_found", staff.language)
        )
    now = console.clock.now()
    explanation = explain_sla(page.ticket, page.followups, console.settings, now)
    return render(request, "ticket.html", staff, page=page, explanation=explanation, now=now,
                   categories=categories_for(page.ticket.kind), technicians=technicians,
                  owner=owner, staff_list=staff_list,
                   priorities=["urgent", "high", "normal", "low"])  # fmt: skip


async def ticket_action(request: Request) -> Response:
    """An action on a ticket (:data:`bot.web.ticket_actions.ACTIONS`), audited under the staff
    member's name; the page comes back with a line saying what happened."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    console = console_of(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return error_page(request, staff, 403, "csrf")
    number, action = request.path_params["number"], request.path_params["action"]
    work = ACTIONS.get(action)
    if work is None:
        return error_page(request, staff, 404, "not_found")
    text = str(form.get("text") or "").strip()[:TEXT_LIMIT]
    now = console.clock.now()
    try:
        async with console.db.write() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
            if ticket is None:
                return error_page(request, staff, 404, "not_found")
            actor = f"staff:{staff.email}"
            fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
            await work(Act(session, ticket, text, actor, now, console.settings, fields,
                           staff_id=staff.id, role=staff.role))  # fmt: skip
            await accounts.audit(
                session, account_ref(staff), action, now, target=number,
                client=client_address(request), data={"text": text} if text else {},
            )  # fmt: skip
    except EmptyText:
        flash = console.text("empty_note", staff.language)
    except NoConversation:
        flash = console.text("no_conversation", staff.language)
    except OwnershipError as exc:
        flash = console.text(f"owner_{exc.key}", staff.language)
    except StaffError as exc:
        key = REFUSED.get(exc.key)
        flash = (
            console.text(key, staff.language)
            if key
            else console.text("cannot", staff.language, reason=str(exc))
        )
    except TicketStateError as exc:
        flash = console.text("cannot", staff.language, reason=str(exc))
    else:
        flash = console.text(DONE[action], staff.language)
    request.session["flash"] = flash
    return RedirectResponse(f"/tickets/{number}", status_code=303)


async def ticket_file(request: Request) -> Response:
    """A photo or document the customer sent in the ticket's conversation."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    console = console_of(request)
    try:
        message_id = int(request.path_params["message_id"])
        index = int(request.path_params["index"])
    except ValueError:
        return error_page(request, staff, 404, "not_found")
    async with console.db.session() as session:
        found = await files.customer_file(
            session, request.path_params["number"], message_id, index, console.settings
        )
    if found is None:
        return error_page(request, staff, 404, "not_found")
    inline = found.media_type in files.INLINE_TYPES
    return FileResponse(
        found.path,
        media_type=found.media_type if inline else "application/octet-stream",
        filename=found.name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"cache-control": "private, max-age=300", "x-content-type-options": "nosniff"},
    )
