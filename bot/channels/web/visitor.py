"""Who a web visitor is, where their request comes from, and how often they may write.

A visitor is a random id in a cookie signed with the web secret (itsdangerous): nothing in a
URL or a request body names a conversation, so a visitor can only ever reach their own. Writes
must come from Kefu's own pages or a configured origin (the ``Origin`` header), which is the
CSRF defence for a cookie-authenticated API; the same list decides the CORS headers.
"""

from __future__ import annotations

import secrets
from collections import deque
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from bot.config.web import ChatSettings

COOKIE = "kefu_visitor"
_SALT = "kefu-web-chat-visitor"


class Visitors:
    """Issues and reads the signed visitor cookie."""

    def __init__(self, secret: str, chat: ChatSettings, *, secure: bool) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._max_age = int(chat.visitor_lifetime.total_seconds())
        self._secure = secure

    def of(self, request: Request) -> str | None:
        """The visitor id the request's cookie carries, if the signature and age are good."""
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > 300:
            return None
        try:
            value = self._signer.loads(raw, max_age=self._max_age)
        except BadSignature:
            return None
        return value if isinstance(value, str) and value.startswith("w") else None

    @staticmethod
    def new_id() -> str:
        """A fresh visitor id (also their chat id on channel ``web``)."""
        return "w" + secrets.token_hex(12)

    def set_cookie(self, response: Response, visitor: str) -> None:
        """Give (or renew) the visitor's cookie: HttpOnly; cross-site only over HTTPS."""
        response.set_cookie(
            COOKIE,
            self._signer.dumps(visitor),
            max_age=self._max_age,
            httponly=True,
            secure=self._secure,
            samesite="none" if self._secure else "lax",
            path="/chat",
        )


class Origins:
    """Kefu's own origin and ``web.chat.allowed_origins``."""

    def __init__(self, allowed: list[str]) -> None:
        self._allowed = set(allowed)

    def own(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}".lower()

    def allowed(self, request: Request, origin: str) -> bool:
        origin = origin.lower().rstrip("/")
        return origin == self.own(request) or origin in self._allowed

    def of(self, request: Request) -> str | None:
        """The request's ``Origin`` (or the origin of its ``Referer``)."""
        origin = request.headers.get("origin")
        if origin and origin != "null":
            return origin
        referer = request.headers.get("referer", "")
        if referer.startswith(("http://", "https://")):
            scheme, rest = referer.split("://", 1)
            return f"{scheme}://{rest.split('/', 1)[0]}"
        return None

    def write_ok(self, request: Request) -> bool:
        """A write (POST) must say where it comes from, and that must be allowed."""
        origin = self.of(request)
        return origin is not None and self.allowed(request, origin)

    def read_ok(self, request: Request) -> bool:
        """A read from a foreign page that is not allowed is refused outright (the stream marks
        messages delivered, so a page that may not read it must not consume it either)."""
        origin = request.headers.get("origin")
        return origin is None or self.allowed(request, origin)

    def cors(self, request: Request, response: Response) -> Response:
        """Allow an allowed foreign origin to read the response, with the visitor's cookie."""
        origin = request.headers.get("origin")
        if origin and origin.lower() != self.own(request) and self.allowed(request, origin):
            response.headers["access-control-allow-origin"] = origin
            response.headers["access-control-allow-credentials"] = "true"
            response.headers["vary"] = "Origin"
        return response


class RateLimit:
    """At most ``limit`` events per key within ``window`` (in this process)."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, key: str, now: datetime) -> bool:
        """Count one event for ``key`` unless that would exceed the limit."""
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        if len(self._seen) > 50_000:  # forget idle visitors
            for old in [k for k, v in self._seen.items() if not v][:10_000]:
                del self._seen[old]
        return True
