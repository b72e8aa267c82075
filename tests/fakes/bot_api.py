"""A fake Telegram Bot API server for tests and benchmarks.

A real HTTP server (tornado, on 127.0.0.1 and a random port) running in its own thread with its
own event loop, so it keeps answering whatever the test's loop is doing, and can be driven from
synchronous bench scripts as well as from async tests. Point python-telegram-bot at it with
``ApplicationBuilder().base_url(api.base_url).base_file_url(api.base_file_url)``.

It speaks the wire format PTB uses: ``POST {base_url}{token}/{method}`` with form-encoded or
multipart bodies where non-string values are JSON-encoded (JSON bodies are accepted too), and
answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``
with the HTTP status Telegram uses. Every call is recorded (:class:`Call`) for assertions.

Updates are built with the ``*_update`` helpers (a text message with a ``bot_command`` entity for
``/commands``, a press on an inline button of a message the bot sent, photo, document, contact,
sticker, voice, video, edited message, group message, channel post, the bot added to a group)
and injected with :meth:`FakeBotAPI.queue` (delivered by ``getUpdates``) or
:meth:`FakeBotAPI.post_webhook` (POSTed to the bot's webhook, with or without the secret header).

Faults: :meth:`FakeBotAPI.fail` makes the next N calls of a method answer 429 with
``retry_after``, 403 "bot was blocked by the user", another HTTP error, or drop the connection;
:meth:`FakeBotAPI.block` makes a chat block the bot until unblocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web

DEFAULT_TOKEN = "123456789:TEST-token_for_the_fake_bot_api"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_DOWNLOAD = 20 * 1024 * 1024  # the cloud Bot API refuses getFile above 20 MB

# Parameters that are plain strings on the wire; everything else PTB JSON-encodes.
_TEXT_PARAMS = frozenset(
    {
        "text", "caption", "name", "description", "short_description", "title", "url",
        "secret_token", "callback_query_id", "file_id", "parse_mode", "language_code", "action",
        "photo", "document", "video", "audio", "voice", "sticker", "animation", "emoji",
        "icon_custom_emoji_id", "phone_number", "first_name", "last_name", "query",
        "ip_address", "certificate",
    }
)  # fmt: skip

_UNSET: Any = object()
_INSTANCES = itertools.count(int(time.time()) % 1000)


class ApiError(Exception):
    """An error answer of the Bot API (raised inside method implementations)."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class _Drop(Exception):
    """Close the connection without an answer (a network failure as PTB sees it)."""


@dataclass
class Call:
    """One request the fake server received."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float  # time.perf_counter() on arrival
    wall: float  # time.time() on arrival
    status: int = 0
    result: Any = None
    error: str | None = None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Fault:
    """A programmed failure for the next calls of a method."""

    method: str
    kind: str  # "429" | "403" | "drop" | "delay" | "500" | "400" | any HTTP code as text
    times: int
    retry_after: int = 1
    description: str | None = None
    chat_id: Any = None  # only calls for this chat, when set
    delay: float = 0.0  # "delay": carried out at once, answered this many seconds later


@dataclass
class FakeUser:
    """A Telegram user (a customer, an agent...)."""

    id: int
    first_name: str = "Test"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    def private_chat(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str
    size: int


@dataclass
class _Topic:
    chat_id: int
    thread_id: int
    name: str
    icon_color: int = 7322096
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False


@dataclass
class _Waiter:
    predicate: Callable[[], bool]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


@dataclass
class _State:
    pending: list[dict[str, Any]] = field(default_factory=list)
    acked_up_to: int = 0


class FakeBotAPI:
    """The fake Bot API server. Use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int | None = None,
        username: str = "kefu_test_bot",
        first_name: str = "Kefu",
    ) -> None:
        self.token = token
        self.bot_user = FakeUser(
            id=bot_id or int(token.split(":", 1)[0]),
            first_name=first_name,
            username=username,
            language_code=None,
            is_bot=True,
        )
        self.port = 0
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.topics: dict[tuple[int, int], _Topic] = {}
        self.blocked: set[int] = set()
        self.chats: dict[int, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # for the blocking wait_for
        self._faults: list[Fault] = []
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._state = _State()
        # Ids continue across server instances in one process, as they do for one real bot:
        # tests that share a database never see an update or message id twice.
        self._id_base = next(_INSTANCES) * 100_000
        self._update_ids = itertools.count(1000 + self._id_base * 10)
        self._callback_ids = itertools.count(5_000_000 + self._id_base)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._answered_callbacks: set[str] = set()
        self._open_callbacks: set[str] = set()
        self._waiters: list[_Waiter] = []
        # How often :meth:`until` re-checks on its own, for state the server does not see.
        self.recheck_interval = 0.02
        self._sent_times: dict[int, list[float]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._new_update: asyncio.Event | None = None
        self._poll_generation = 0
        self._started = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeBotAPI:
        """Start serving in a background thread; returns once the port is bound."""
        logging.getLogger("tornado.access").setLevel(logging.ERROR)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._thread = threading.Thread(
            target=self._serve, args=(sockets,), name="fake-bot-api", daemon=True
        )
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("fake Bot API server did not start")
        return self

    def stop(self) -> None:
        """Stop the server and its thread."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, sockets: list[Any]) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._new_update = asyncio.Event()
            self._stop_event = asyncio.Event()
            app = tornado.web.Application(
                [
                    (r"/bot([^/]+)/([A-Za-z]+)/?", _MethodHandler, {"api": self}),
                    (r"/file/bot([^/]+)/(.+)", _FileHandler, {"api": self}),
                ]
            )
            self._server = tornado.httpserver.HTTPServer(
                app, max_body_size=100 * 1024 * 1024, idle_connection_timeout=60
            )
            self._server.add_sockets(sockets)
            self._started.set()
            await self._stop_event.wait()
            self._server.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.close_all_connections(), 2)

        asyncio.run(main())

    # ------------------------------------------------------------------ addresses

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder.base_url`` (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder.base_file_url``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    def method_url(self, method: str) -> str:
        return f"{self.base_url}{self.token}/{method}"

    # ------------------------------------------------------------------ assertions

    def calls_to(self, method: str, **params: Any) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive) whose params include ``params``."""
        name = method.lower()
        with self._lock:
            calls = [c for c in self.calls if c.method.lower() == name]
        return [c for c in calls if all(_same(c.params.get(k), v) for k, v in params.items())]

    def sent(self, chat_id: int | None = None, *, ok_only: bool = True) -> list[Call]:
        """Message-sending calls (sendMessage/sendPhoto/sendDocument/copyMessage/...)."""
        with self._lock:
            calls = list(self.calls)
        out = []
        for c in calls:
            if c.method.lower() not in _SEND_METHODS or (ok_only and not c.ok):
                continue
            if chat_id is not None and not _same(c.params.get("chat_id"), chat_id):
                continue
            out.append(c)
        return out

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts/captions the bot successfully sent (to ``chat_id``), in order."""
        return [
            str(c.params.get("text") or c.params.get("caption") or "") for c in self.sent(chat_id)
        ]

    def last_bot_message(self, chat_id: int, *, with_keyboard: bool = False) -> dict[str, Any]:
        """The newest message the bot sent to a chat, as it is now (edits applied)."""
        with self._lock:
            candidates = [
                m
                for (cid, _), m in self.messages.items()
                if cid == chat_id
                and m.get("from", {}).get("id") == self.bot_user.id
                and (not with_keyboard or "inline_keyboard" in m.get("reply_markup", {}))
            ]
        if not candidates:
            raise LookupError(
                f"the bot sent nothing{' with a keyboard' if with_keyboard else ''}"
                f" to chat {chat_id}"
            )
        return max(candidates, key=lambda m: m["message_id"])

    def pending_update_ids(self) -> list[int]:
        """Updates queued and not yet acknowledged by ``getUpdates`` with a higher offset."""
        with self._lock:
            return [u["update_id"] for u in self._state.pending]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate()`` is true; AssertionError after ``timeout`` seconds.

        Woken as :meth:`until` is, when the server's state changes, and re-checked every
        :attr:`recheck_interval` seconds for state outside the server (not a 2 ms spin).
        """
        end = time.monotonic() + timeout
        while not predicate():
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for the bot")
            with self._changed:
                self._changed.wait(min(remaining, self.recheck_interval))

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Await until ``predicate()`` is true; AssertionError after ``timeout`` seconds.

        It is re-checked the moment the server's state changes (every recorded call, every
        acknowledgement of updates by ``getUpdates``, every queued update), and every
        :attr:`recheck_interval` seconds for predicates on state outside the server (a
        stand-in engine's records). An acknowledgement arrives at the start of the next long
        poll, which is recorded only when that poll ends, seconds later.
        """
        if predicate():
            return
        loop = asyncio.get_running_loop()
        waiter = _Waiter(predicate, loop, loop.create_future())
        with self._lock:
            self._waiters.append(waiter)
        deadline = loop.time() + timeout
        try:
            while not predicate():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for the bot")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(waiter.future), min(remaining, self.recheck_interval)
                    )
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def until_sent(self, chat_id: int, count: int, timeout: float = 10.0) -> list[Call]:
        """Await until the bot sent at least ``count`` messages to ``chat_id``; return them."""
        await self.until(lambda: len(self.sent(chat_id)) >= count, timeout)
        return self.sent(chat_id)

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        method: str,
        error: str | int = 429,
        *,
        times: int = 1,
        retry_after: int = 1,
        description: str | None = None,
        chat_id: Any = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        ``error``: 429 (Too Many Requests with ``retry_after``), 403 (bot blocked by the user),
        ``"drop"`` (connection closed without an answer), ``"delay"`` (carried out at once,
        answered ``delay`` seconds later: a slow Bot API), or any other HTTP code.
        """
        with self._lock:
            self._faults.append(
                Fault(method.lower(), str(error), times, retry_after, description, chat_id, delay)
            )

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: every send to the chat answers 403 until :meth:`unblock`."""
        with self._lock:
            self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        with self._lock:
            self.blocked.discard(chat_id)

    # ------------------------------------------------------------------ chats and users

    def user(self, user_id: int, first_name: str = "Test", **kwargs: Any) -> FakeUser:
        """A customer with a private chat (chat id = user id)."""
        user = FakeUser(id=user_id, first_name=first_name, **kwargs)
        with self._lock:
            self.chats[user_id] = user.private_chat()
        return user

    def group(self, chat_id: int, title: str = "Group", *, forum: bool = False) -> dict[str, Any]:
        """A group or (with ``forum=True``) a supergroup with topics; ids are negative."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat: dict[str, Any] = {
            "id": chat_id,
            "type": "supergroup" if forum or chat_id < -1_000_000_000_000 else "group",
            "title": title,
        }
        if forum:
            chat["is_forum"] = True
        with self._lock:
            self.chats[chat_id] = chat
            if forum:  # message 1 is the General topic's; new topics get later ids
                self._message_ids.setdefault(chat_id, itertools.count(self._id_base + 2))
        return chat

    def channel(self, chat_id: int, title: str = "Channel") -> dict[str, Any]:
        chat = {"id": chat_id, "type": "channel", "title": title}
        with self._lock:
            self.chats[chat_id] = chat
        return chat

    # ------------------------------------------------------------------ update builders

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def _next_message_id(self, chat_id: int) -> int:
        with self._lock:
            counter = self._message_ids.setdefault(chat_id, itertools.count(self._id_base + 1))
            return next(counter)

    def _chat_for(self, chat_id: int) -> dict[str, Any]:
        with self._lock:
            chat = self.chats.get(chat_id)
        if chat is None:
            chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
            if chat_id < 0:
                chat["title"] = "Group"
            with self._lock:
                self.chats[chat_id] = chat
        return chat

    def _user_message(
        self,
        user: FakeUser,
        chat_id: int | None = None,
        thread_id: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        cid = user.id if chat_id is None else chat_id
        if cid == user.id:
            with self._lock:
                self.chats.setdefault(cid, user.private_chat())
        message: dict[str, Any] = {
            "message_id": self._next_message_id(cid),
            "date": int(time.time()),
            "chat": self._chat_for(cid),
            "from": user.to_dict(),
            **content,
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        with self._lock:
            self.messages[(cid, message["message_id"])] = message
        return message

    def text_update(
        self,
        user: FakeUser,
        text: str,
        *,
        chat_id: int | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """A text message; a leading ``/command`` gets its ``bot_command`` entity."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        msg = self._user_message(user, chat_id, thread_id, **content)
        return {"update_id": self.next_update_id(), "message": msg}

    def callback_update(
        self,
        user: FakeUser,
        *,
        text: str | None = None,
        data: str | None = None,
        index: int | None = None,
        message_id: int | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A press on an inline button of a message the bot sent.

        The message is ``message_id`` or the newest one with an inline keyboard in the chat; the
        button is chosen by its ``text``, its callback ``data`` or its ``index`` (flattened; default
        0). Passing ``data`` that is not on the keyboard forges a press with unknown data.
        """
        cid = user.id if chat_id is None else chat_id
        if message_id is None:
            message = self.last_bot_message(cid, with_keyboard=data is None)
        else:
            with self._lock:
                message = self.messages.get((cid, message_id)) or {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": self._chat_for(cid),
                    "from": self.bot_user.to_dict(),
                    "text": "(a message the server does not know)",
                }
        buttons = [
            b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row
        ]
        chosen: str | None = None
        if text is not None:
            matches = [b for b in buttons if b.get("text") == text]
            if not matches:
                titles = [b.get("text") for b in buttons]
                raise LookupError(
                    f"no button {text!r} on message {message['message_id']}: {titles}"
                )
            chosen = matches[0].get("callback_data")
        elif data is not None:
            chosen = data
        else:
            if not buttons:
                raise LookupError(f"message {message['message_id']} has no inline keyboard")
            chosen = buttons[index or 0].get("callback_data")
        query_id = str(next(self._callback_ids))
        with self._lock:
            self._open_callbacks.add(query_id)
        query: dict[str, Any] = {
            "id": query_id,
            "from": user.to_dict(),
            "chat_instance": str(abs(hash((cid, self.bot_user.id)))),
            "message": json.loads(json.dumps(message)),
        }
        if chosen is not None:
            query["data"] = chosen
        return {"update_id": self.next_update_id(), "callback_query": query}

    def add_file(
        self, content: bytes, *, size: int | None = None, kind: str = "documents", ext: str = ""
    ) -> _File:
        """Register a file the API can serve (``getFile`` + download)."""
        unique = uuid.uuid4().hex[:16]
        file = _File(
            file_id=f"F{unique}{uuid.uuid4().hex}",
            file_unique_id=unique,
            content=content,
            file_path=f"{kind}/file_{unique}{ext}",
            size=len(content) if size is None else size,
        )
        with self._lock:
            self._files[file.file_id] = file
            self._files_by_path[file.file_path] = file
        return file

    def photo_update(
        self,
        user: FakeUser,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        *,
        caption: str | None = None,
        size: int | None = None,
        chat_id: int | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """A photo (two sizes, as Telegram sends them; the largest is the original); with
        ``media_group_id``, one part of an album."""
        thumb = self.add_file(content[:64], kind="photos", ext=".jpg")
        big = self.add_file(content, size=size, kind="photos", ext=".jpg")
        photo = [
            {"file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id,
             "width": 90, "height": 67, "file_size": thumb.size},
            {"file_id": big.file_id, "file_unique_id": big.file_unique_id,
             "width": 1280, "height": 960, "file_size": big.size},
        ]  # fmt: skip
        content_fields: dict[str, Any] = {"photo": photo}
        if caption:
            content_fields["caption"] = caption
        if media_group_id:
            content_fields["media_group_id"] = media_group_id
        msg = self._user_message(user, chat_id, **content_fields)
        return {"update_id": self.next_update_id(), "message": msg}

    def document_update(
        self,
        user: FakeUser,
        content: bytes = b"%PDF-1.4 fake receipt",
        *,
        file_name: str = "receipt.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        size: int | None = None,
        chat_id: int | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """A document; ``size`` overrides the announced ``file_size`` (oversized files)."""
        ext = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        file = self.add_file(content, size=size, kind="documents", ext=ext)
        document = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": file.size,
        }
        content_fields: dict[str, Any] = {"document": document}
        if caption:
            content_fields["caption"] = caption
        if media_group_id:
            content_fields["media_group_id"] = media_group_id
        msg = self._user_message(user, chat_id, **content_fields)
        return {"update_id": self.next_update_id(), "message": msg}

    def contact_update(
        self,
        user: FakeUser,
        phone_number: str,
        *,
        contact_user_id: int | Any | None = _UNSET,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """A shared contact; by default the sender's own (``user_id`` = sender: verified)."""
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or user.first_name,
        }
        owner = user.id if contact_user_id is _UNSET else contact_user_id
        if owner is not None:
            contact["user_id"] = owner
        msg = self._user_message(user, contact=contact)
        return {"update_id": self.next_update_id(), "message": msg}

    def sticker_update(self, user: FakeUser) -> dict[str, Any]:
        file = self.add_file(b"webp", kind="stickers", ext=".webp")
        sticker = {
            "file_id": file.file_id, "file_unique_id": file.file_unique_id, "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍",
        }  # fmt: skip
        msg = self._user_message(user, sticker=sticker)
        return {"update_id": self.next_update_id(), "message": msg}

    def voice_update(self, user: FakeUser, duration: int = 3) -> dict[str, Any]:
        file = self.add_file(b"OggS", kind="voice", ext=".oga")
        voice = {"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                 "duration": duration, "mime_type": "audio/ogg"}  # fmt: skip
        msg = self._user_message(user, voice=voice)
        return {"update_id": self.next_update_id(), "message": msg}

    def video_update(self, user: FakeUser) -> dict[str, Any]:
        file = self.add_file(b"\x00\x00\x00\x18ftypmp42", kind="videos", ext=".mp4")
        video = {"file_id": file.file_id, "file_unique_id": file.file_unique_id, "width": 640,
                 "height": 480, "duration": 5, "file_size": file.size}  # fmt: skip
        msg = self._user_message(user, video=video)
        return {"update_id": self.next_update_id(), "message": msg}

    def animation_update(self, user: FakeUser) -> dict[str, Any]:
        """A GIF: Telegram sends it with both ``animation`` and ``document``."""
        file = self.add_file(b"GIF89a", kind="animations", ext=".mp4")
        base = {"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                "file_size": file.size}  # fmt: skip
        animation = {**base, "width": 320, "height": 240, "duration": 2}
        document = {**base, "file_name": "funny.gif.mp4", "mime_type": "video/mp4"}
        msg = self._user_message(user, animation=animation, document=document)
        return {"update_id": self.next_update_id(), "message": msg}

    def location_update(self, user: FakeUser) -> dict[str, Any]:
        msg = self._user_message(user, location={"latitude": 22.28, "longitude": 114.16})
        return {"update_id": self.next_update_id(), "message": msg}

    def edited_update(
        self, user: FakeUser, text: str, *, message_id: int | None = None
    ) -> dict[str, Any]:
        """An edit of one of the user's earlier messages (the newest by default)."""
        with self._lock:
            mine = [
                m
                for (cid, mid), m in self.messages.items()
                if cid == user.id
                and m.get("from", {}).get("id") == user.id
                and (message_id is None or mid == message_id)
            ]
        base = max(mine, key=lambda m: m["message_id"]) if mine else self._user_message(user)
        edited = {**base, "text": text, "edit_date": int(time.time())}
        return {"update_id": self.next_update_id(), "edited_message": edited}

    def group_update(
        self, user: FakeUser, chat_id: int, text: str, *, thread_id: int | None = None
    ) -> dict[str, Any]:
        """A message from ``user`` in a group or a forum topic (``thread_id``)."""
        self._chat_for(chat_id)
        return self.text_update(user, text, chat_id=chat_id, thread_id=thread_id)

    def channel_post_update(self, chat_id: int, text: str) -> dict[str, Any]:
        """A post in a channel the bot is in."""
        with self._lock:
            chat = self.chats.get(chat_id) or self.channel(chat_id)
        msg = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "sender_chat": chat,
            "text": text,
        }
        return {"update_id": self.next_update_id(), "channel_post": msg}

    def bot_added_update(self, user: FakeUser, chat_id: int) -> dict[str, Any]:
        """``my_chat_member``: ``user`` added the bot to a group."""
        bot = self.bot_user.to_dict()
        return {
            "update_id": self.next_update_id(),
            "my_chat_member": {
                "chat": self._chat_for(chat_id),
                "from": user.to_dict(),
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": bot},
                "new_chat_member": {"status": "member", "user": bot},
            },
        }

    # ------------------------------------------------------------------ injection

    def queue(self, *updates: dict[str, Any]) -> list[int]:
        """Queue updates for ``getUpdates``; returns their ``update_id``s."""
        with self._lock:
            self._state.pending.extend(updates)
            self._state.pending.sort(key=lambda u: u["update_id"])
        loop, event = self._loop, self._new_update
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)
        self._wake()
        return [u["update_id"] for u in updates]

    async def post_webhook(
        self,
        update: dict[str, Any],
        *,
        url: str | None = None,
        secret: str | None = _UNSET,
        timeout: float = 30.0,
    ) -> httpx.Response:
        """POST an update to the webhook as Telegram does; returns the bot's HTTP answer.

        ``secret`` defaults to the one registered by ``setWebhook``; ``None`` sends no header.
        """
        target = url or self.webhook.get("url")
        if not target:
            raise RuntimeError("no webhook URL: call setWebhook first or pass url=")
        token = self.webhook.get("secret_token") if secret is _UNSET else secret
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers[SECRET_HEADER] = token
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await client.post(target, content=json.dumps(update), headers=headers)

    # ------------------------------------------------------------------ server side

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method != method.lower():
                    continue
                if fault.chat_id is not None and not _same(params.get("chat_id"), fault.chat_id):
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def sent_times(self, chat_id: int) -> list[float]:
        """Arrival times (``perf_counter``) of the messages the bot sent to a chat; cheap."""
        with self._lock:
            return list(self._sent_times.get(chat_id, ()))

    def sent_count(self, chat_id: int) -> int:
        with self._lock:
            return len(self._sent_times.get(chat_id, ()))

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            if call.status == 200 and call.method.lower() in _SEND_METHODS:
                chat = _as_int(call.params.get("chat_id"))
                if chat is not None:
                    self._sent_times.setdefault(chat, []).append(call.at)
        self._wake()

    def _wake(self) -> None:
        """Resolve the waiters of :meth:`until` whose predicate holds now."""
        with self._lock:
            self._changed.notify_all()
            ready = [w for w in self._waiters if not w.future.done() and _safe(w.predicate)]
        for waiter in ready:
            with contextlib.suppress(RuntimeError):  # the waiting loop has closed meanwhile
                waiter.loop.call_soon_threadsafe(_resolve, waiter.future)

    async def handle(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        """Run one Bot API method; raises :class:`ApiError` or :class:`_Drop`."""
        fault = self._take_fault(method, params)
        if fault is not None and fault.kind == "delay":
            result = await self._carry_out(method, params, files)
            await asyncio.sleep(fault.delay)
            return result
        if fault is not None:
            _raise_fault(fault)
        return await self._carry_out(method, params, files)

    async def _carry_out(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        impl = getattr(self, f"_m_{method.lower()}", None)
        if impl is None:
            raise ApiError(404, "Not Found")
        chat_id = params.get("chat_id")
        if method.lower() in _SEND_METHODS | _EDIT_METHODS and _as_int(chat_id) in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if asyncio.iscoroutinefunction(impl):
            return await impl(params, files)
        return impl(params, files)

    # --- methods (named _m_<lowercase method>)

    def _m_getme(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return {
            **self.bot_user.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_logout(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return True

    async def _m_getupdates(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        with self._lock:
            if offset > 0:
                self._state.pending = [u for u in self._state.pending if u["update_id"] >= offset]
                self._state.acked_up_to = max(self._state.acked_up_to, offset - 1)
            self._poll_generation += 1
            generation = self._poll_generation
        if offset > 0:
            self._wake()  # acknowledged now; this call is recorded only when the poll ends
        assert self._new_update is not None
        if generation > 1:
            self._new_update.set()  # wake an older long poll so it can be terminated
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                batch = list(self._state.pending[:limit])
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0:
                return batch
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)

    def _m_setwebhook(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        url = params.get("url") or ""
        if params.get("drop_pending_updates"):
            with self._lock:
                self._state.pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": params.get("max_connections", 40),
        } if url else {}  # fmt: skip
        return True

    def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if params.get("drop_pending_updates"):
            with self._lock:
                self._state.pending.clear()
        self.webhook = {}
        return True

    def _m_getwebhookinfo(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._state.pending),
        }
        if self.webhook.get("max_connections"):
            info["max_connections"] = self.webhook["max_connections"]
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _bot_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat not found")
        thread_id = params.get("message_thread_id")
        if thread_id is not None and chat_id < 0:
            self._check_topic(chat_id, int(thread_id))
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat_for(chat_id),
            "from": self.bot_user.to_dict(),
            **content,
        }
        if thread_id is not None:
            message["message_thread_id"] = int(thread_id)
            message["is_topic_message"] = True
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes inline keyboards only
        with self._lock:
            self.messages[(chat_id, message["message_id"])] = message
        return message

    def _m_sendmessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        text = params.get("text")
        if not text or not str(text).strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(str(text)) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": str(text)}
        if params.get("entities"):
            content["entities"] = params["entities"]
        return self._bot_message(params, **content)

    def _media(self, field_name: str, params: dict[str, Any], files: dict[str, Any]) -> _File:
        value = params.get(field_name)
        if field_name in files:
            return self.add_file(files[field_name], kind=f"{field_name}s")
        if isinstance(value, str) and value.startswith("attach://"):
            name = value[len("attach://") :]
            if name in files:
                return self.add_file(files[name], kind=f"{field_name}s")
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.add_file(value.encode(), kind=f"{field_name}s")
        raise ApiError(400, f"Bad Request: there is no {field_name} in the request")

    def _m_sendphoto(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        file = self._media("photo", params, files)
        content: dict[str, Any] = {
            "photo": [{"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                       "width": 800, "height": 600, "file_size": file.size}]
        }  # fmt: skip
        if params.get("caption"):
            content["caption"] = str(params["caption"])
        return self._bot_message(params, **content)

    def _m_senddocument(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        file = self._media("document", params, files)
        content: dict[str, Any] = {
            "document": {"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                         "file_size": file.size}
        }  # fmt: skip
        if params.get("caption"):
            content["caption"] = str(params["caption"])
        return self._bot_message(params, **content)

    def _m_sendchataction(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if params.get("chat_id") is None:
            raise ApiError(400, "Bad Request: chat not found")
        return True

    def _stored(self, params: dict[str, Any], not_found: str) -> dict[str, Any]:
        key = (_as_int(params.get("chat_id")) or 0, _as_int(params.get("message_id")) or 0)
        with self._lock:
            message = self.messages.get(key)
        if message is None or message.get("from", {}).get("id") != self.bot_user.id:
            raise ApiError(400, f"Bad Request: {not_found}")
        return message

    def _m_editmessagetext(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        message = self._stored(params, "message to edit not found")
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        markup = params.get("reply_markup")
        if text == message.get("text") and markup == message.get("reply_markup"):
            raise ApiError(400, _NOT_MODIFIED)
        with self._lock:
            message["text"] = text
            message["edit_date"] = int(time.time())
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
        return message

    def _m_editmessagereplymarkup(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        message = self._stored(params, "message to edit not found")
        markup = params.get("reply_markup")
        new = markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None
        if new == message.get("reply_markup"):
            raise ApiError(400, _NOT_MODIFIED)
        with self._lock:
            message["edit_date"] = int(time.time())
            if new is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = new
        return message

    def _m_answercallbackquery(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        with self._lock:
            if query_id not in self._open_callbacks or query_id in self._answered_callbacks:
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is "
                    "invalid",
                )
            self._answered_callbacks.add(query_id)
        return True

    def _m_getfile(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        file = self._files.get(str(params.get("file_id") or ""))
        if file is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if file.size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
            "file_path": file.file_path,
        }

    def file_content(self, file_path: str) -> bytes | None:
        with self._lock:
            file = self._files_by_path.get(file_path)
        return None if file is None else file.content

    def _m_setmycommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands must be an array")
        for command in commands:
            name = str(command.get("command", ""))
            desc = str(command.get("description", ""))
            if (
                not (1 <= len(name) <= 32)
                or not name.replace("_", "").isalnum()
                or name.lower() != name
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not (1 <= len(desc) <= 256):
                raise ApiError(400, "Bad Request: command description is empty or too long")
        language = str(params.get("language_code") or "")
        if language and len(language) != 2:
            raise ApiError(400, "Bad Request: invalid language code specified")
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        with self._lock:
            self.commands[(scope, language)] = commands
        return True

    def _m_getmycommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        with self._lock:
            return self.commands.get((scope, str(params.get("language_code") or "")), [])

    def _m_deletemycommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        with self._lock:
            self.commands.pop((scope, str(params.get("language_code") or "")), None)
        return True

    # --- forum topics

    def _forum(self, params: dict[str, Any]) -> int:
        chat_id = _as_int(params.get("chat_id"))
        chat = self.chats.get(chat_id or 0)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if not chat.get("is_forum"):
            raise ApiError(400, "Bad Request: the chat is not a forum")
        assert chat_id is not None
        return chat_id

    def _check_topic(self, chat_id: int, thread_id: int) -> _Topic | None:
        chat = self.chats.get(chat_id, {})
        if not chat.get("is_forum"):
            return None
        if thread_id == 1:  # the General topic
            return None
        topic = self.topics.get((chat_id, thread_id))
        if topic is None or topic.deleted:
            raise ApiError(400, "Bad Request: message thread not found")
        return topic

    def _topic(self, params: dict[str, Any]) -> _Topic:
        chat_id = self._forum(params)
        topic = self._check_topic(chat_id, int(params.get("message_thread_id") or 0))
        if topic is None:
            raise ApiError(400, "Bad Request: message thread not found")
        return topic

    def _m_createforumtopic(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = self._forum(params)
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: TOPIC_TITLE_EMPTY" if not name else
                           "Bad Request: topic name is too long")  # fmt: skip
        thread_id = self._next_message_id(chat_id)
        topic = _Topic(
            chat_id=chat_id,
            thread_id=thread_id,
            name=name,
            icon_color=int(params.get("icon_color") or 7322096),
            icon_custom_emoji_id=params.get("icon_custom_emoji_id"),
        )
        with self._lock:
            self.topics[(chat_id, thread_id)] = topic
        result: dict[str, Any] = {
            "message_thread_id": thread_id,
            "name": name,
            "icon_color": topic.icon_color,
        }
        if topic.icon_custom_emoji_id:
            result["icon_custom_emoji_id"] = topic.icon_custom_emoji_id
        return result

    def _m_editforumtopic(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        topic = self._topic(params)
        name = params.get("name")
        emoji = params.get("icon_custom_emoji_id")
        if (name is None or name == topic.name) and (
            emoji is None or emoji == topic.icon_custom_emoji_id
        ):
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        if name is not None:
            topic.name = str(name)
        if emoji is not None:
            topic.icon_custom_emoji_id = str(emoji) or None
        return True

    def _m_closeforumtopic(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        topic = self._topic(params)
        if topic.closed:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    def _m_reopenforumtopic(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        topic = self._topic(params)
        if not topic.closed:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    def _m_deleteforumtopic(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        topic = self._topic(params)
        topic.deleted = True
        return True

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Someone deleted a topic in the Telegram app (the bot is not told)."""
        self.topics[(chat_id, thread_id)].deleted = True

    def _source(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (_as_int(params.get("from_chat_id")) or 0, _as_int(params.get("message_id")) or 0)
        with self._lock:
            message = self.messages.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        return message

    def _m_copymessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        source = self._source(params)
        content = {
            k: v
            for k, v in source.items()
            if k in {"text", "entities", "photo", "document", "caption", "video", "voice",
                     "sticker", "contact", "location"}
        }  # fmt: skip
        if params.get("caption") is not None:
            content["caption"] = str(params["caption"])
        message = self._bot_message(params, **content)
        return {"message_id": message["message_id"]}

    def _m_forwardmessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        source = self._source(params)
        skip = {"message_id", "date", "chat", "from", "reply_markup"}
        content = {k: v for k, v in source.items() if k not in skip}
        origin: dict[str, Any] = {"type": "user", "date": source["date"]}
        if "from" in source:
            origin["sender_user"] = source["from"]
        return self._bot_message(params, forward_origin=origin, **content)


_SEND_METHODS = frozenset(
    {"sendmessage", "sendphoto", "senddocument", "copymessage", "forwardmessage", "sendvideo",
     "sendaudio", "sendvoice", "sendsticker", "sendmediagroup", "sendlocation", "sendcontact"}
)  # fmt: skip
_EDIT_METHODS = frozenset(
    {"editmessagetext", "editmessagereplymarkup", "editmessagecaption", "sendchataction"}
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def _raise_fault(fault: Fault) -> None:
    if fault.kind == "drop":
        raise _Drop
    if fault.kind == "429":
        raise ApiError(
            429,
            fault.description or f"Too Many Requests: retry after {fault.retry_after}",
            {"retry_after": fault.retry_after},
        )
    if fault.kind == "403":
        raise ApiError(403, fault.description or "Forbidden: bot was blocked by the user")
    code = int(fault.kind)
    raise ApiError(code, fault.description or f"Error {code}")


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _safe(predicate: Callable[[], bool]) -> bool:
    try:
        return bool(predicate())
    except Exception:
        return False


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _same(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    return _as_int(actual) is not None and _as_int(actual) == _as_int(expected)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode_params(request: tornado.httputil.HTTPServerRequest) -> dict[str, Any]:
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/json") and request.body:
        data = json.loads(request.body)
        return data if isinstance(data, dict) else {}
    params: dict[str, Any] = {}
    for key, values in request.arguments.items():
        raw = values[-1].decode("utf-8")
        if key in _TEXT_PARAMS:
            params[key] = raw
            continue
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


class _MethodHandler(tornado.web.RequestHandler):
    def initialize(self, api: FakeBotAPI) -> None:
        self.api = api

    def check_xsrf_cookie(self) -> None:
        return

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)

    async def post(self, token: str, method: str) -> None:
        params = _decode_params(self.request)
        files = {name: parts[0].body for name, parts in self.request.files.items()}
        call = Call(method, params, files, time.perf_counter(), time.time())
        if token != self.api.token:
            self._answer(call, 401, {"ok": False, "error_code": 401,
                                     "description": "Unauthorized"})  # fmt: skip
            return
        try:
            result = await self.api.handle(method, params, files)
        except _Drop:
            call.status, call.error = 0, "connection dropped"
            self.api._record(call)
            self.request.connection.close()  # type: ignore[union-attr]
            self._finished = True  # nothing more to send
            return
        except ApiError as exc:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.code,
                "description": exc.description,
            }
            if exc.parameters:
                body["parameters"] = exc.parameters
            call.error = exc.description
            self._answer(call, exc.code, body)
            return
        call.result = result
        self._answer(call, 200, {"ok": True, "result": result})

    def _answer(self, call: Call, status: int, body: dict[str, Any]) -> None:
        call.status = status
        self.api._record(call)  # before answering: the caller may look right after
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))


class _FileHandler(tornado.web.RequestHandler):
    def initialize(self, api: FakeBotAPI) -> None:
        self.api = api

    def get(self, token: str, file_path: str) -> None:
        content = self.api.file_content(file_path) if token == self.api.token else None
        call = Call("file", {"file_path": file_path}, {}, time.perf_counter(), time.time())
        if content is None:
            call.status = 404
            self.api._record(call)
            self.set_status(404)
            self.finish("Not Found")
            return
        call.status = 200
        self.api._record(call)
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(content)
