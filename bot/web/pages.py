"""What every console page shares: who is asking (:func:`current_staff`, re-read from the
signed session on every request), rendering a template in their language (:func:`render`),
the answers for a missing session or a refusal, and auditing an action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from bot.config import LANGUAGES
from bot.web import accounts
from bot.web.console import Console
from bot.web.models import StaffAccount, StaffRole
from bot.web.security import (
    client_address,
    csrf_token,
    session_staff_id,
)

TEXT_LIMIT = 4000


@dataclass(frozen=True)
class Staff:
    """The logged-in staff member, as read for this request."""

    id: int
    email: str
    name: str
    role: str
    language: str


def console_of(request: Request) -> Console:
    """The :class:`~bot.web.console.Console` this app was built with."""
    console: Console = request.app.state.console
    return console


async def current_staff(request: Request) -> Staff | None:
    """The logged-in staff member, re-read on every request (None: no valid session; a
    deactivated account ends its session here)."""
    staff_id = session_staff_id(request)
    if staff_id is None:
        return None
    console = console_of(request)
    async with console.db.session() as session:
        account = await session.get(StaffAccount, staff_id)
    if account is None or not account.active:
        request.session.clear()
        return None
    language = account.language or console.settings.default_language
    return Staff(account.id, account.email, account.name, account.role, language)


def render(
    request: Request, template: str, staff: Staff | None, status_code: int = 200, **ctx: Any
) -> Response:
    """``template`` in the staff member's language, with ``t`` (texts), ``when`` (office
    time), the CSRF token and the flash line of the last action."""
    console = console_of(request)
    language = staff.language if staff else guest_language(request)
    tz = console.settings.tz

    def t(key: str, **values: Any) -> str:
        return console.text(key, language, **values)

    def when(dt: datetime | None) -> str:
        return "-" if dt is None else f"{dt.astimezone(tz):%Y-%m-%d %H:%M}"

    context = {
        "t": t, "when": when, "iso": iso_time, "staff": staff, "lang": language,
        "languages": LANGUAGES, "csrf": csrf_token(request),
        "flash": request.session.pop("flash", None),
        **ctx,
    }  # fmt: skip
    return console.templates.TemplateResponse(request, template, context, status_code=status_code)


def iso_time(dt: datetime | None) -> str:
    """An instant for ``data-due`` attributes (the countdown script reads it)."""
    return "" if dt is None else dt.isoformat()


def guest_language(request: Request) -> str:
    """The language chosen before login (the login page), else the office's."""
    chosen = request.session.get("language")
    console = console_of(request)
    return chosen if chosen in LANGUAGES else console.settings.default_language


def unauthenticated(request: Request) -> Response:
    """No session: a page redirects to the login; the API and streams answer 401."""
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/login", status_code=303)
    return PlainTextResponse("login required", status_code=401)


def error_page(request: Request, staff: Staff, status: int, key: str) -> Response:
    """An error page with the console text ``key`` and ``status``."""
    message = console_of(request).text(key, staff.language)
    return render(request, "error.html", staff, status, message=message)


def account_ref(staff: Staff) -> StaffAccount:
    """A detached account carrying only what the audit row needs."""
    return StaffAccount(id=staff.id, email=staff.email)


async def audit_action(request: Request, staff: Staff, action: str) -> None:
    """Audit ``action`` (no target) in a transaction of its own."""
    console = console_of(request)
    async with console.db.write() as session:
        await accounts.audit(
            session,
            account_ref(staff),
            action,
            console.clock.now(),
            client=client_address(request),
        )


def may_role(staff: Staff, role: StaffRole) -> bool:
    """Whether the logged-in staff member's role includes ``role``'s rights."""
    try:
        return StaffRole(staff.role).at_least(role)
    except ValueError:
        return False
