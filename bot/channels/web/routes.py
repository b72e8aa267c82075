"""The web chat's HTTP side: the page, the chat box script, and the visitor's API.

``chat_routes`` is the hook: the console's server (:func:`bot.web.app.create_app`) mounts what
it returns. Every API request is checked in the same order: origin (CSRF and CORS), visitor
cookie, rate, size; bad input gets a clear JSON answer in the visitor's language.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from bot.channels.web.codes import Codes, CodeSender, load_sender, mask_address, parse_address
from bot.channels.web.feed import CHANNEL, Feed
from bot.channels.web.uploads import UploadRefused, save_photo
from bot.channels.web.visitor import Origins, RateLimit, Visitors
from bot.config import Settings
from bot.dialogue.claims import claimed
from bot.dialogue.engine import Engine
from bot.dialogue.text import hint_language
from bot.messages import Attachment, InboundMessage, OutboundMessage
from bot.store.db import Database
from bot.store.models import ChannelIdentity, Contact, Conversation

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
TEXT_KEYS = (
    "title", "open", "close", "placeholder", "send", "photo", "verify", "verify_prompt",
    "verify_send", "code_prompt", "code_check", "offline", "you",
)  # fmt: skip
STREAM_LIFETIME = 300.0  # seconds; the browser reconnects with the last id it showed
STREAMS_PER_VISITOR = 4  # open tabs; more is a loop or an attack, each one polls the database
Handler = Callable[[Request], Awaitable[Response]]
VisitorHandler = Callable[[Request, str], Awaitable[Response]]


class ChatHost(Protocol):
    """What the web chat needs of the process (``kefu run`` and ``kefu web`` pass their
    :class:`bot.app.App`)."""

    settings: Settings
    db: Database
    engine: Engine


class WebChat:
    """The channel: turns requests into inbound messages for the engine."""

    def __init__(self, host: ChatHost, *, secret: str, sender: CodeSender | None = None) -> None:
        self.settings = host.settings
        self.chat = host.settings.web.chat
        self.db = host.db
        self.engine = host.engine
        self.visitors = Visitors(secret, self.chat, secure=host.settings.web.secure_cookies)
        self.origins = Origins(self.chat.allowed_origins)
        self.rate = RateLimit(self.chat.rate_per_minute, timedelta(minutes=1))
        self.code_rate = RateLimit(self.chat.codes_per_hour, timedelta(hours=1))
        self.codes = Codes(self.chat)
        self.sender = sender or load_sender(self.chat)
        self.feed = Feed(host.db, host.engine)
        self._streams: dict[str, int] = {}

    # ------------------------------------------------------------------ plumbing

    def text(self, key: str, language: str, **values: Any) -> str:
        return self.engine.responses.text(f"utter_webchat_{key}", language, values)

    async def language(self, request: Request, visitor: str | None) -> str:
        """The conversation's language, else the page's (``?lang=``, the browser's
        ``navigator.language``), else ``Accept-Language``, else the office's default."""
        if visitor is not None:
            async with self.db.session() as session:
                language = await session.scalar(
                    select(Conversation.language).where(
                        Conversation.channel == CHANNEL, Conversation.chat_id == visitor
                    )
                )
            if language:
                return language
        hinted = hint_language(request.query_params.get("lang", "")[:20])
        if hinted:
            return hinted
        for part in request.headers.get("accept-language", "").split(","):
            found = hint_language(part.split(";")[0].strip())
            if found:
                return found
        return self.settings.default_language

    async def refuse(
        self, request: Request, visitor: str | None, status: int, key: str, **values: Any
    ) -> Response:
        language = await self.language(request, visitor)
        body = {"error": key, "message": self.text(key, language, **values)}
        return self.origins.cors(request, JSONResponse(body, status_code=status))

    def api(self, handler: VisitorHandler, *, write: bool) -> Handler:
        """Origin and visitor checks around an API handler."""

        async def checked(request: Request) -> Response:
            ok = self.origins.write_ok(request) if write else self.origins.read_ok(request)
            if not ok:
                return JSONResponse({"error": "refused"}, status_code=403)
            visitor = self.visitors.of(request)
            if visitor is None:
                return await self.refuse(request, None, 401, "no_visitor")
            return self.origins.cors(request, await handler(request, visitor))

        return checked

    async def preflight(self, request: Request) -> Response:
        """CORS preflight: only allowed origins, only what the chat box sends."""
        origin = request.headers.get("origin", "")
        if not origin or not self.origins.allowed(request, origin):
            return Response(status_code=403)
        response = Response(status_code=204)
        response.headers["access-control-allow-methods"] = "GET, POST"
        response.headers["access-control-allow-headers"] = "content-type"
        response.headers["access-control-max-age"] = "600"
        return self.origins.cors(request, response)

    async def _json(self, request: Request) -> dict[str, Any] | None:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return None
        body = await request.body()
        if len(body) > self.chat.max_message_chars * 4 + 2000:
            return {"text": "x" * (self.chat.max_message_chars + 1)}
        try:
            data = json.loads(body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def _turn(self, message: InboundMessage) -> None:
        """One turn; its replies are left to the stream (claims given back at once)."""
        replies = await self.engine.handle(message)
        await release(self.engine, replies)
        self.feed.wake(message.chat_id)

    def _inbound(self, request: Request, visitor: str, **kw: Any) -> InboundMessage:
        header = request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip()
        return InboundMessage(
            channel=CHANNEL, user_id=visitor, chat_id=visitor,
            language_hint=header or None, **kw,
        )  # fmt: skip

    def texts(self, language: str) -> dict[str, Any]:
        """The chat box's own texts in ``language``."""
        return {"language": language, "texts": {k: self.text(k, language) for k in TEXT_KEYS}}

    # ------------------------------------------------------------------ pages

    async def page(self, request: Request) -> Response:
        """The standalone chat page: the chat box, full size."""
        visitor = self.visitors.of(request)
        title = self.text("title", await self.language(request, visitor))
        html = (STATIC / "chat.html").read_text(encoding="utf-8").replace("{{title}}", title)
        return HTMLResponse(html)

    async def script(self, request: Request) -> Response:
        return FileResponse(STATIC / "chat.js", media_type="text/javascript",
                            headers={"cache-control": "max-age=300"})  # fmt: skip

    async def style(self, request: Request) -> Response:
        return FileResponse(STATIC / "chat.css", media_type="text/css",
                            headers={"cache-control": "max-age=300"})  # fmt: skip

    # ------------------------------------------------------------------ API

    async def hello(self, request: Request) -> Response:
        """The visitor's cookie (a new visitor gets one) and the chat box's texts."""
        if not self.origins.read_ok(request):
            return JSONResponse({"error": "refused"}, status_code=403)
        visitor = self.visitors.of(request) or self.visitors.new_id()
        language = await self.language(request, visitor)
        body = {
            **self.texts(language),
            "max_chars": self.chat.max_message_chars,
            "upload_types": self.chat.upload_types,
        }
        response = JSONResponse(body, headers={"cache-control": "no-store"})
        self.visitors.set_cookie(response, visitor)
        return self.origins.cors(request, response)

    async def post_message(self, request: Request, visitor: str) -> Response:
        """A typed message or a pressed button."""
        data = await self._json(request)
        if data is None:
            return await self.refuse(request, visitor, 400, "bad_request")
        text = field(data, "text")
        payload = data.get("payload") if isinstance(data.get("payload"), str) else None
        if payload is not None and (not payload.startswith("/") or len(payload) > 500):
            payload = None
        if len(text) > self.chat.max_message_chars:
            return await self.refuse(
                request, visitor, 413, "too_long", limit=self.chat.max_message_chars
            )
        if not text.strip() and payload is None:
            return JSONResponse({"ok": True})
        if not self.rate.allow(visitor, self.engine.clock.now()):
            return await self.refuse(request, visitor, 429, "too_fast")
        await self._turn(
            self._inbound(
                request, visitor, text=text, payload=payload,
                delivery_id=delivery_id(visitor, data.get("client_id")),
            )
        )  # fmt: skip
        return JSONResponse({"ok": True}, status_code=202)

    async def post_photo(self, request: Request, visitor: str) -> Response:
        """A photo (multipart field ``photo``), checked by type, content and size."""
        limit = self.chat.upload_max_bytes
        if int(request.headers.get("content-length") or 0) > limit + 10_000:
            return await self.refuse(request, visitor, 413, "too_big", limit=human_size(limit))
        if not self.rate.allow(visitor, self.engine.clock.now()):
            return await self.refuse(request, visitor, 429, "too_fast")
        try:
            async with request.form(max_files=1, max_fields=2, max_part_size=limit + 1) as form:
                upload = form.get("photo")
                saved = await save_photo(upload, self.settings, self.chat, visitor)
        except UploadRefused as exc:
            key = "too_big" if exc.too_big else "bad_upload"
            return await self.refuse(
                request, visitor, 413 if exc.too_big else 415, key,
                limit=human_size(limit), types=", ".join(self.chat.upload_types),
            )  # fmt: skip
        except Exception:  # a malformed multipart body
            return await self.refuse(
                request, visitor, 400, "bad_upload", types=", ".join(self.chat.upload_types)
            )
        path, mime, size = saved
        photo = Attachment(kind="photo", path=str(path), mime_type=mime, size=size, name=path.name)
        await self._turn(
            self._inbound(request, visitor, attachments=(photo,), delivery_id=delivery_id(visitor))
        )
        return JSONResponse({"ok": True}, status_code=202)

    async def stream(self, request: Request, visitor: str) -> Response:
        """Server-sent events: the conversation after the last id the page showed."""
        try:
            last = int(request.headers.get("last-event-id") or request.query_params.get("after")
                       or 0)  # fmt: skip
        except ValueError:
            last = 0
        interval = self.chat.poll_interval.total_seconds()
        if self._streams.get(visitor, 0) >= STREAMS_PER_VISITOR:
            return await self.refuse(request, visitor, 429, "too_fast")

        async def events() -> AsyncIterator[str]:
            # Counted while it runs (a response never started never counts).
            self._streams[visitor] = self._streams.get(visitor, 0) + 1
            try:
                async for chunk in conversation():
                    yield chunk
            finally:
                left = self._streams.get(visitor, 1) - 1
                if left > 0:
                    self._streams[visitor] = left
                else:
                    self._streams.pop(visitor, None)

        async def conversation() -> AsyncIterator[str]:
            nonlocal last
            yield "retry: 2000\n\n"
            waited = 0.0
            told: str | None = None
            while waited < STREAM_LIFETIME and not await request.is_disconnected():
                items, language = await self.feed.after(visitor, last)
                if language and language != told:
                    # The engine detected the visitor's language: the box follows it.
                    told = language
                    yield f"event: language\ndata: {json.dumps(self.texts(language))}\n\n"
                written = 0
                try:
                    for item in items:
                        yield f"id: {item.id}\nevent: message\ndata: {json.dumps(item.data)}\n\n"
                        written += 1
                        last = item.id
                        await self.feed.delivered(item)
                finally:
                    if written < len(items):
                        with contextlib.suppress(Exception):
                            await self.feed.give_back(items[written:])
                yield ": ping\n\n"  # also tells a reader that this batch is complete
                await self.feed.wait(visitor, interval)
                waited += interval

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def verify(self, request: Request, visitor: str) -> Response:
        """Send a one-time code to the phone or e-mail the visitor gives."""
        data = await self._json(request) or {}
        address = field(data, "address")
        parsed = parse_address(address, self.settings.default_region)
        if parsed is None:
            return await self.refuse(request, visitor, 400, "bad_address")
        if not self.code_rate.allow(visitor, self.engine.clock.now()):
            return await self.refuse(request, visitor, 429, "too_fast")
        kind, clean = parsed
        language = await self.language(request, visitor)
        code = self.codes.issue(visitor, kind, clean, self.engine.clock.now())
        await self.sender.send(kind, clean, code, language)
        minutes = int(self.chat.code_lifetime.total_seconds() // 60)
        return JSONResponse({"ok": True, "message": self.text("code_sent", language,
                                                              minutes=minutes)})  # fmt: skip

    async def confirm(self, request: Request, visitor: str) -> Response:
        """Check the code; a proven phone or e-mail becomes the visitor's (their orders)."""
        data = await self._json(request) or {}
        code = field(data, "code")
        proven = self.codes.check(visitor, code, self.engine.clock.now())
        if proven is None:
            return await self.refuse(request, visitor, 400, "code_wrong")
        kind, address = proven
        log.info("web visitor %s verified %s", visitor, mask_address(kind, address))
        if kind == "phone":
            # Like a contact shared on Telegram: the engine records it as verified.
            await self._turn(
                self._inbound(request, visitor, contact_phone=address,
                              delivery_id=delivery_id(visitor))
            )  # fmt: skip
        else:
            await self._set_email(visitor, address)
        language = await self.language(request, visitor)
        return JSONResponse(
            {"ok": True, "message": self.text("verified", language, address=address)}
        )

    async def _set_email(self, visitor: str, email: str) -> None:
        now = self.engine.clock.now()
        async with self.db.write() as session:
            contact = await session.scalar(
                select(Contact)
                .join(ChannelIdentity, ChannelIdentity.contact_id == Contact.id)
                .where(ChannelIdentity.channel == CHANNEL, ChannelIdentity.external_id == visitor)
            )
            if contact is None:
                contact = Contact(created_at=now, updated_at=now)
                session.add(contact)
                await session.flush()
                session.add(ChannelIdentity(contact_id=contact.id, channel=CHANNEL,
                                            external_id=visitor, created_at=now))  # fmt: skip
            contact.email = email
            contact.updated_at = now

    def routes(self) -> list[BaseRoute]:
        api = [
            ("/chat/api/messages", self.post_message, True),
            ("/chat/api/photos", self.post_photo, True),
            ("/chat/api/verify", self.verify, True),
            ("/chat/api/verify/confirm", self.confirm, True),
        ]
        routes: list[BaseRoute] = [
            Route("/chat", self.page, methods=["GET"]),
            Route("/chat/widget.js", self.script, methods=["GET"]),
            Route("/chat/widget.css", self.style, methods=["GET"]),
            Route("/chat/api/hello", self.hello, methods=["GET"]),
            Route("/chat/api/stream", self.api(self.stream, write=False), methods=["GET"]),
        ]
        for path, handler, write in api:
            routes.append(Route(path, self.api(handler, write=write), methods=["POST"]))
        for path in ["/chat/api/hello", "/chat/api/stream"] + [p for p, _, _ in api]:
            routes.append(Route(path, self.preflight, methods=["OPTIONS"]))
        return routes


def field(data: dict[str, Any], key: str) -> str:
    """A string field of a JSON body ('' when missing or not a string)."""
    value = data.get(key)
    return value if isinstance(value, str) else ""


async def release(engine: Engine, replies: list[OutboundMessage]) -> None:
    """Give back a turn's claims so that the visitor's stream delivers the replies."""
    by_token: dict[str, list[int]] = {}
    for reply in replies:
        token = claimed(reply)
        if token is not None and reply.id is not None:
            by_token.setdefault(token, []).append(reply.id)
    for token, ids in by_token.items():
        await engine.release(token, ids)


def delivery_id(visitor: str, client_id: Any = None) -> str:
    """One delivery per message the page sent: a retried POST is processed once."""
    if isinstance(client_id, str) and 8 <= len(client_id) <= 64 and client_id.isalnum():
        return f"{visitor}:{client_id}"
    return f"{visitor}:{uuid.uuid4().hex}"


def human_size(size: int) -> str:
    """``5 MB``, ``500 KB`` (binary units, as config.yml's sizes are read)."""
    if size >= 1024**2:
        return f"{size / 1024**2:.0f} MB"
    return f"{max(size // 1024, 1)} KB"


def chat_routes(
    host: ChatHost, *, secret: str, sender: CodeSender | None = None
) -> list[BaseRoute]:
    """The web chat's routes, for the console's server to mount (the hook)."""
    return WebChat(host, secret=secret, sender=sender).routes()
