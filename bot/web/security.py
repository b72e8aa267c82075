"""Who is asking, and may they: the session's staff member, CSRF tokens, role checks, and the
headers that keep the console's pages from being framed or fed foreign scripts.

Sessions are Starlette's signed cookies (itsdangerous): the cookie holds the account id, the
CSRF token and when the login happened, signed with ``KEFU_WEB_SECRET``; nothing secret is
readable by the browser and nothing is stored server-side. The account is re-read on every
request, so a deactivated account or a changed role takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.models import StaffAccount

CSRF_FIELD = "csrf"

# Everything is served by Kefu itself: no CDN, no inline script, no framing.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (also before login: the login form has one)."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, form: FormData) -> bool:
    """True when the form carries the session's token (compared in constant time)."""
    expected = request.session.get(CSRF_FIELD)
    sent = form.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )


def start_session(request: Request, account: StaffAccount) -> None:
    """A fresh session for a successful login (a new CSRF token: no fixation)."""
    request.session.clear()
    request.session["staff"] = account.id
    request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


def session_staff_id(request: Request) -> int | None:
    """The account id the signed cookie carries, if any."""
    value: Any = request.session.get("staff")
    return value if isinstance(value, int) else None


def client_address(request: Request) -> str | None:
    """The client's address as this server sees it (behind a proxy: the proxy's)."""
    return request.client.host if request.client else None


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
