"""The console's pages and form actions. Each handler: who is asking (the signed session),
may they (role, CSRF on every POST), then one service call and a redirect or a page.

Pages answer a missing session with a redirect to the login page; the API, the live stream
and row fragments answer 401, so a script never mistakes the login page for data.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import (
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
from bot.web import accounts, households, reports
from bot.web.console import Console
from bot.web.models import StaffAccount, StaffAudit, StaffRole
from bot.web.queries import FILTERS, inbox, ticket_page
from bot.web.replies import NoConversation
from bot.web.security import (
    client_address,
    csrf_ok,
    csrf_token,
    session_staff_id,
    start_session,
)
from bot.web.ticket_actions import ACTIONS, DONE, REFUSED, Act, EmptyText

TEXT_LIMIT = 4000


@dataclass(frozen=True)
class Staff:
    """The logged-in staff member, as read for this request."""

    id: int
    email: str
    name: str
    role: str
    language: str


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


async def _staff(request: Request) -> Staff | None:
    staff_id = session_staff_id(request)
    if staff_id is None:
        return None
    console = _console(request)
    async with console.db.session() as session:
        account = await session.get(StaffAccount, staff_id)
    if account is None or not account.active:
        request.session.clear()
        return None
    language = account.language or console.settings.default_language
    return Staff(account.id, account.email, account.name, account.role, language)


def _render(
    request: Request, template: str, staff: Staff | None, status_code: int = 200, **ctx: Any
) -> Response:
    console = _console(request)
    language = staff.language if staff else _guest_language(request)
    tz = console.settings.tz

    def t(key: str, **values: Any) -> str:
        return console.text(key, language, **values)

    def when(dt: datetime | None) -> str:
        return "-" if dt is None else f"{dt.astimezone(tz):%Y-%m-%d %H:%M}"

    context = {
        "t": t, "when": when, "iso": _iso, "staff": staff, "lang": language,
        "languages": LANGUAGES, "csrf": csrf_token(request),
        "flash": request.session.pop("flash", None),
        **ctx,
    }  # fmt: skip
    return console.templates.TemplateResponse(request, template, context, status_code=status_code)


def _iso(dt: datetime | None) -> str:
    return "" if dt is None else dt.isoformat()


def _guest_language(request: Request) -> str:
    chosen = request.session.get("language")
    console = _console(request)
    return chosen if chosen in LANGUAGES else console.settings.default_language


def _unauthenticated(request: Request) -> Response:
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/login", status_code=303)
    return PlainTextResponse("login required", status_code=401)


# --- login -----------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    """The login form."""
    return _render(request, "login.html", None)


async def login_submit(request: Request) -> Response:
    """Check the password (rate-limited and audited) and start a session."""
    console = _console(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return _render(
            request, "login.html", None, 403, error=console.text("csrf", _guest_language(request))
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
        )
    language = _guest_language(request)
    if result.refused:
        minutes = math.ceil(web.login_window.total_seconds() / 60)
        error = console.text("login_refused", language, minutes=minutes)
        return _render(request, "login.html", None, 429, error=error)
    if result.account is None:
        return _render(
            request, "login.html", None, 401, error=console.text("login_failed", language)
        )
    start_session(request, result.account)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    """End the session (a POST with the CSRF token, so no page can log someone out)."""
    form = await request.form()
    if csrf_ok(request, form):
        staff = await _staff(request)
        if staff is not None:
            await _audit(request, staff, "logout")
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def set_language(request: Request) -> Response:
    """The staff member's language for the console (kept on the account)."""
    form = await request.form()
    language = str(form.get("language") or "")
    if not csrf_ok(request, form) or language not in LANGUAGES:
        return PlainTextResponse("bad request", status_code=400)
    staff = await _staff(request)
    if staff is None:
        request.session["language"] = language
        return RedirectResponse("/login", status_code=303)
    console = _console(request)
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


async def _inbox(request: Request) -> Any:
    console = _console(request)
    async with console.db.session() as session:
        return await inbox(
            session, _filters(request), console.clock.now(), console.settings.web.inbox_limit
        )


async def inbox_page(request: Request) -> Response:
    """Open tickets, the most urgent first, with live countdowns."""
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    box = await _inbox(request)
    return _render(
        request, "inbox.html", staff, inbox=box, filters=_filters(request),
        kinds=sorted({*box.by_kind, "repair", "complaint", "inquiry", "order", "payment"}),
        statuses=[str(s) for s in TicketStatus.OPEN_STATES],
        priorities=["urgent", "high", "normal", "low"], now=_console(request).clock.now(),
    )  # fmt: skip


async def inbox_rows(request: Request) -> Response:
    """The inbox's table body alone (the live view swaps it in)."""
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    box = await _inbox(request)
    return _render(request, "rows.html", staff, inbox=box, now=_console(request).clock.now())


async def inbox_json(request: Request) -> Response:
    """The inbox as JSON (for scripts and the tests)."""
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    box = await _inbox(request)
    rows = [
        {**asdict(r), "created_at": _iso(r.created_at), "next_due": _iso(r.next_due)}
        for r in box.rows
    ]
    return JSONResponse({"total": box.total, "overdue": box.overdue, "rows": rows})


async def events(request: Request) -> Response:
    """Server-sent events: ``changed`` whenever a ticket or a message changed anywhere."""
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    live = _console(request).live

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
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    console = _console(request)
    async with console.db.session() as session:
        page = await ticket_page(session, request.path_params["number"])
        technicians = [t.name for t in await list_technicians(session)]
    if page is None:
        return _render(
            request, "error.html", staff, 404, message=console.text("not_found", staff.language)
        )
    now = console.clock.now()
    explanation = explain_sla(page.ticket, page.followups, console.settings, now)
    return _render(request, "ticket.html", staff, page=page, explanation=explanation, now=now,
                   categories=categories_for(page.ticket.kind), technicians=technicians,
                   priorities=["urgent", "high", "normal", "low"])  # fmt: skip


async def ticket_action(request: Request) -> Response:
    """An action on a ticket (:data:`bot.web.ticket_actions.ACTIONS`), audited under the staff
    member's name; the page comes back with a line saying what happened."""
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    console = _console(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return _error(request, staff, 403, "csrf")
    number, action = request.path_params["number"], request.path_params["action"]
    work = ACTIONS.get(action)
    if work is None:
        return _error(request, staff, 404, "not_found")
    text = str(form.get("text") or "").strip()[:TEXT_LIMIT]
    now = console.clock.now()
    try:
        async with console.db.write() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
            if ticket is None:
                return _error(request, staff, 404, "not_found")
            actor = f"staff:{staff.email}"
            fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
            await work(Act(session, ticket, text, actor, now, console.settings, fields))
            await accounts.audit(
                session, _account_ref(staff), action, now, target=number,
                client=client_address(request), data={"text": text} if text else {},
            )  # fmt: skip
    except EmptyText:
        flash = console.text("empty_note", staff.language)
    except NoConversation:
        flash = console.text("no_conversation", staff.language)
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


def _error(request: Request, staff: Staff, status: int, key: str) -> Response:
    message = _console(request).text(key, staff.language)
    return _render(request, "error.html", staff, status, message=message)


def _account_ref(staff: Staff) -> StaffAccount:
    """A detached account carrying only what the audit row needs."""
    return StaffAccount(id=staff.id, email=staff.email)


async def _audit(request: Request, staff: Staff, action: str) -> None:
    console = _console(request)
    async with console.db.write() as session:
        await accounts.audit(
            session,
            _account_ref(staff),
            action,
            console.clock.now(),
            client=client_address(request),
        )


async def audit_page(request: Request) -> Response:
    """The console's audit trail (logins and actions of everyone): supervisors and managers."""
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    console = _console(request)
    if not may_role(staff, StaffRole.SUPERVISOR):
        message = console.text("forbidden", staff.language)
        return _render(request, "error.html", staff, 403, message=message)
    async with console.db.session() as session:
        rows = list(
            await session.scalars(select(StaffAudit).order_by(StaffAudit.id.desc()).limit(300))
        )
    return _render(request, "audit.html", staff, rows=rows)


def may_role(staff: Staff, role: StaffRole) -> bool:
    """Whether the logged-in staff member's role includes ``role``'s rights."""
    try:
        return StaffRole(staff.role).at_least(role)
    except ValueError:
        return False


# --- reports (managers) ------------------------------------------------------------------------


async def _manager(request: Request) -> tuple[Staff | None, Response | None]:
    staff = await _staff(request)
    if staff is None:
        return None, _unauthenticated(request)
    if not may_role(staff, StaffRole.MANAGER):
        return staff, _error(request, staff, 403, "forbidden")
    return staff, None


async def reports_page(request: Request) -> Response:
    """The figures of ``kefu report`` for a period, with charts and downloads."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or _unauthenticated(request)
    console = _console(request)
    try:
        first, last = reports.period(request, console.settings, console.clock.now().date())
    except reports.BadPeriod:
        return _error(request, staff, 400, "bad_period")
    report = await reports.report_for(console, first, last)
    body = reports.as_text(console, report, staff.language)
    query = f"from={first.isoformat()}&to={last.isoformat()}"
    return _render(request, "reports.html", staff, text=body, first=first, last=last,
                   query=query, charts=reports.CHARTS)  # fmt: skip


async def report_chart(request: Request) -> Response:
    """One chart of the period as PNG."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or _unauthenticated(request)
    name = request.path_params["name"]
    console = _console(request)
    if name not in reports.CHARTS:
        return _error(request, staff, 404, "not_found")
    try:
        first, last = reports.period(request, console.settings, console.clock.now().date())
    except reports.BadPeriod:
        return _error(request, staff, 400, "bad_period")
    report = await reports.report_for(console, first, last)
    png = await reports.chart_png(console, report, staff.language, name)
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})


async def report_download(request: Request) -> Response:
    """The period's workbook or PDF (audited: exports leave the building)."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or _unauthenticated(request)
    kind = request.path_params["kind"]
    console = _console(request)
    if kind not in reports.DOWNLOADS:
        return _error(request, staff, 404, "not_found")
    try:
        first, last = reports.period(request, console.settings, console.clock.now().date())
    except reports.BadPeriod:
        return _error(request, staff, 400, "bad_period")
    report = await reports.report_for(console, first, last)
    data = await reports.download(console, report, staff.language, kind)
    async with console.db.write() as session:
        await accounts.audit(session, _account_ref(staff), f"export_{kind}", console.clock.now(),
                             client=client_address(request),
                             data={"from": first.isoformat(), "to": last.isoformat()})  # fmt: skip
    return reports.file_response(data, kind, first, last)


# --- the household file ------------------------------------------------------------------------


async def household_page(request: Request) -> Response:
    """One unit's file (``?unit=3座18樓B室``), or the form to ask for one."""
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    unit_text = request.query_params.get("unit", "").strip()[:100]
    if not unit_text:
        return _render(request, "household.html", staff, unit_text="", tables=None)
    console = _console(request)
    try:
        shown, tables = await households.household(console, unit_text, staff.language)
    except households.UnitUnreadable:
        message = console.text("unit_unreadable", staff.language)
        return _render(request, "household.html", staff, 400, unit_text=unit_text,
                       tables=None, error=message)  # fmt: skip
    return _render(request, "household.html", staff, unit_text=unit_text, shown=shown,
                   tables=tables)  # fmt: skip


async def household_export(request: Request) -> Response:
    """The unit's file as XLSX or CSV (audited: a household's data leaves the building)."""
    staff = await _staff(request)
    if staff is None:
        return _unauthenticated(request)
    kind = request.path_params["kind"]
    console = _console(request)
    if kind not in households.EXPORTS:
        return _error(request, staff, 404, "not_found")
    unit_text = request.query_params.get("unit", "").strip()[:100]
    try:
        shown, tables = await households.household(console, unit_text, staff.language)
    except households.UnitUnreadable:
        return _error(request, staff, 400, "unit_unreadable")
    if not tables:
        return _error(request, staff, 404, "not_found")
    data = await households.export(tables, kind)
    async with console.db.write() as session:
        await accounts.audit(session, _account_ref(staff), f"household_{kind}",
                             console.clock.now(), target=shown[:64],
                             client=client_address(request))  # fmt: skip
    headers = {"content-disposition": f'attachment; filename="household.{kind}"'}
    return Response(data, media_type=households.EXPORTS[kind], headers=headers)
