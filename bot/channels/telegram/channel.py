"""The Telegram channel: updates in, the dialogue engine, replies out.

One :class:`TelegramChannel` per process. :meth:`TelegramChannel.process_update` handles one
update completely (engine turn and delivery of the replies) and raises :class:`RetryLater` when
the update must be delivered again (database down, Telegram unreachable): the poller then does
not acknowledge it and the webhook answers 5xx. Updates of one chat are processed in order;
different chats run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from telegram import (
    Bot,
    BotCommandScopeChat,
    InputFile,
    Message,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram.convert import (
    KEY_PREFIX,
    command_menu,
    contact_keyboard,
    default_command_languages,
    flat,
    inline_keyboard,
    language_from_hint,
    payload_key,
    split_text,
)
from bot.channels.telegram.media import DownloadFailed, FileTooLarge, download
from bot.channels.telegram.request import Unconfirmed
from bot.channels.telegram.texts import ChannelTexts
from bot.dialogue.claims import Claims as _Claims
from bot.messages import Attachment, InboundMessage, OutboundMessage
from bot.store.db import Database, StoreUnavailable, is_outage

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# Failures after which an update must be delivered again. Kept for `except RETRYABLE`; the
# full rule (a serialization failure, a pool timeout...) is bot.store.db.is_outage.
RETRYABLE: tuple[type[BaseException], ...] = (
    StoreUnavailable,
    ConnectionError,
    TimeoutError,
    RetryAfter,
)
_BLOCK_EXPIRY = 600.0  # seconds a chat waits for the redelivery of a failed update
_TYPING_AFTER = 1.5  # seconds before a slow turn shows "typing..."
# Telegram sends an album's photos as separate updates, together; wait this long for the rest.
ALBUM_WAIT = 0.8


class RetryLater(Exception):
    """The update was not processed; it must be delivered again (do not acknowledge it)."""


class EngineLike(Protocol):
    """What the channel needs from :class:`bot.dialogue.engine.Engine`."""

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]: ...

    async def mark_sent(self, outbound_id: int, channel_message_id: str | None = None) -> None: ...

    async def mark_unreachable(self, channel: str, chat_id: str) -> None: ...

    async def unsent(
        self, channel: str, *, chat_id: str | None = None, limit: int = 500
    ) -> list[OutboundMessage]: ...

    async def claim(self, ids: Sequence[int]) -> tuple[str, set[int]]: ...

    async def renew(self, token: str, ids: Sequence[int]) -> set[int]: ...

    async def release(self, token: str, ids: Sequence[int]) -> None: ...


UpdateHook = Callable[[Update, "TelegramChannel"], Awaitable[bool]]


class _LRU:
    """A bounded set of recently seen keys."""

    def __init__(self, size: int = 20_000) -> None:
        self._items: OrderedDict[Any, float] = OrderedDict()
        self._size = size

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def add(self, key: Any) -> None:
        self._items[key] = time.monotonic()
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def discard(self, key: Any) -> None:
        self._items.pop(key, None)


class TelegramChannel:
    """Kefu on Telegram: routes updates to the engine and delivers its replies.

    ``hooks`` are tried first for every update (e.g. the agents' forum group, issue 6); a hook
    returns ``True`` when it handled the update.
    """

    def __init__(
        self,
        bot: Bot,
        engine: EngineLike,
        *,
        texts: ChannelTexts,
        media_dir: Path,
        max_file_size: int,
        default_language: str = "zh-Hant",
        db: Database | None = None,
        concurrency: int = 64,
        command_languages: dict[str, str] | None = None,
        shared_locks: bool = True,
    ) -> None:
        self.bot = bot
        self.engine = engine
        self.texts = texts
        self.media_dir = Path(media_dir)
        self.max_file_size = max_file_size
        self.default_language = default_language
        self.db = db
        self.command_languages = command_languages or default_command_languages(default_language)
        self.hooks: list[UpdateHook] = []
        self._chat_locks: OrderedDict[str, asyncio.Lock] = OrderedDict()
        self._blocked: dict[str, tuple[int, float]] = {}
        self._pressed = _LRU()
        self._answered = _LRU()
        self._long_payloads: OrderedDict[str, str] = OrderedDict()
        self._contact_keyboard: set[str] = set()
        self._unrecorded = _LRU()  # delivered, but the store refused to record it
        self._hints: OrderedDict[str, str] = OrderedDict()  # chat -> Telegram language_code
        self._chat_menus: dict[int, str] = {}  # chat -> language of its own command menu
        self._lock_engine: AsyncEngine | None = None
        self._background: set[asyncio.Future[None]] = set()
        self._albums: dict[str, _Album] = {}
        # Chats are locked across processes only where several may handle them: webhook workers
        # sharing PostgreSQL. A polling bot is one process (Telegram refuses a second
        # getUpdates), so its in-process locks are enough. Each held chat holds a connection.
        self._shared = shared_locks and db is not None and db.dialect == "postgresql"
        self._lock_pool_size = max(1, min(concurrency, 16))
        # More turns at once than the store keeps connections would queue in its pool, or
        # open and close an overflow connection per turn.
        slots = min(concurrency, (db.steady_connections if db is not None else None) or concurrency)
        self._slots = asyncio.Semaphore(min(slots, self._lock_pool_size) if self._shared else slots)

    # ------------------------------------------------------------------ public API

    async def process_update(self, update: Update) -> None:
        """Handle one update fully; :class:`RetryLater` if it must be delivered again.

        A user's album (several photos or files sent at once, one update each) is one turn:
        the first part waits :data:`ALBUM_WAIT` for the others, then handles them all; each
        other part returns when that turn is done, or fails with it (and comes back with it).
        """
        album = _album_id(update)
        if album is None:
            await self._process(update, self._route)
            return
        parts = self._albums.get(album)
        if parts is not None:
            parts.updates.append(update)
            await asyncio.shield(parts.done)
            return
        parts = self._albums[album] = _Album([update], asyncio.get_running_loop().create_future())
        parts.done.add_done_callback(_retrieved)
        try:
            try:
                await asyncio.sleep(ALBUM_WAIT)
            finally:
                del self._albums[album]
            await self._process(update, lambda _update: self._on_album(parts.updates))
        except asyncio.CancelledError:
            parts.done.cancel()  # shutting down: the other parts are not acknowledged either
            raise
        except BaseException as exc:
            parts.done.set_exception(exc)
            raise
        parts.done.set_result(None)

    async def _process(self, update: Update, route: Callable[[Update], Awaitable[None]]) -> None:
        key = _chat_key(update)
        async with self._chat_lock(key):
            blocked = self._blocked.get(key)
            if blocked is not None:
                failed_id, since = blocked
                if time.monotonic() - since > _BLOCK_EXPIRY:
                    del self._blocked[key]
                elif update.update_id > failed_id:
                    # An earlier update of this chat failed: keep the chat's order.
                    raise RetryLater(f"chat {key} waits for update {failed_id}")
            try:
                async with self._slots, self._shared_lock(key):
                    await route(update)
            except RetryLater:
                earlier = self._blocked.get(key, (update.update_id, 0.0))[0]
                self._blocked[key] = (min(earlier, update.update_id), time.monotonic())
                raise
            if blocked is not None and update.update_id <= blocked[0]:
                self._blocked.pop(key, None)

    async def deliver(
        self, outs: Sequence[OutboundMessage], chat_id: int | str | None = None
    ) -> None:
        """Send stored outbound messages and report each with ``engine.mark_sent``.

        Each stored row is sent only under a claim (:mod:`bot.dialogue.outbox`): rows handed
        out claimed (a turn's replies) are sent as they are, the others are claimed here
        first, and a row someone else holds is left to them. A 403 (blocked) marks the chat
        unreachable and stops; Telegram being unreachable raises :class:`RetryLater` (the
        rows not sent are given back to the outbox). Other parts of Kefu (follow-ups, agent
        relay) call this for messages they stored with ``engine.notify``.
        """
        sending = _Claims(self.engine)
        # A row delivered whose record the store refused is never sent again by this process.
        outs = [out for out in outs if out.id is None or out.id not in self._unrecorded]
        outs = await self._engine_call(sending.take(outs))
        try:
            for out in outs:
                target = out.chat_id if out.chat_id is not None else chat_id
                if target is None:
                    log.error("outbound message %s has no chat", out.id)
                    continue
                if not await self._engine_call(sending.still_ours(out)):
                    continue  # held too long and taken over: the new holder sends it
                try:
                    sent_id = await self._send(target, out)
                except Forbidden as exc:
                    log.info("chat %s blocked the bot (%s): marked unreachable", target, exc)
                    await self._engine_call(self.engine.mark_unreachable(CHANNEL, str(target)))
                    sending.done_all()
                    return
                except BadRequest as exc:
                    # Would fail the same way forever: record it as done, loudly.
                    log.error("Telegram refused message %s to %s: %s", out.id, target, exc)
                    sent_id = None
                except Unconfirmed:
                    # Sent, answer lost: it most likely arrived. Recorded as sent rather than
                    # risk showing it twice (the rate limiter logged and counted it).
                    sent_id = None
                except (NetworkError, RetryAfter) as exc:
                    raise RetryLater(f"Telegram unreachable: {exc}") from exc
                sending.done(out)
                if out.id is not None:
                    await self._record_sent(out.id, sent_id)
        finally:
            await sending.give_back()

    async def _record_sent(self, outbound_id: int, sent_id: str | None) -> None:
        """``engine.mark_sent``; a permanent failure to record a delivered message is logged
        once and the row is never sent again by this process (the sweep would, every round)."""
        try:
            await self._engine_call(self.engine.mark_sent(outbound_id, sent_id))
        except RetryLater:
            raise
        except Exception as exc:
            self._unrecorded.add(outbound_id)
            log.error(
                "message %s was delivered but cannot be recorded as sent (%s: %s); "
                "it is not sent again",
                outbound_id,
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "",
            )

    async def flush_outbox(self, *, skip_busy: bool = False) -> int:
        """Send what the outbox still holds for Telegram (after a crash, or written by another
        process); returns how many rows were found. ``skip_busy`` leaves out chats whose turn
        is running here: that turn sends its own replies (the periodic sweep's case)."""
        pending = await self._engine_call(self.engine.unsent(CHANNEL))
        chats = {str(out.chat_id) for out in pending}
        if skip_busy:
            chats = {c for c in chats if not self._busy(c)}

        async def one_chat(chat: str) -> None:
            async with self.chat_lock(chat):
                # Again under the lock: another worker may have sent them meanwhile.
                fresh = await self._engine_call(self.engine.unsent(CHANNEL, chat_id=chat))
                await self.deliver(fresh)

        results = await asyncio.gather(*(one_chat(c) for c in chats), return_exceptions=True)
        for result in results:
            if isinstance(result, RetryLater):  # an outage: said once by the store
                log.debug("outbox flush incomplete: %s", result)
            elif isinstance(result, BaseException):
                log.warning("outbox flush incomplete: %s", result)
        return len(pending)

    def _busy(self, chat: str) -> bool:
        lock = self._chat_locks.get(chat)
        return lock is not None and lock.locked()

    async def set_commands(self) -> None:
        """Set the command menu in every configured language (errors are logged only)."""
        for code, language in self.command_languages.items():
            try:
                await self.bot.set_my_commands(
                    command_menu(self.texts, language), language_code=code or None
                )
            except TelegramError as exc:
                log.warning("setMyCommands(%s) failed: %s", code or "default", exc)

    @asynccontextmanager
    async def chat_lock(self, chat_id: int | str) -> AsyncIterator[None]:
        """Hold a chat for this task alone, in this process and (PostgreSQL) in every worker.

        Take it around :meth:`deliver` when sending outside :meth:`process_update`.
        """
        key = str(chat_id)
        async with self._chat_lock(key), self._shared_lock(key):
            yield

    async def close(self) -> None:
        """Release the connections of the cross-worker chat locks."""
        if self._lock_engine is not None:
            await self._lock_engine.dispose()
            self._lock_engine = None

    # ------------------------------------------------------------------ routing

    @asynccontextmanager
    async def _shared_lock(self, key: str) -> AsyncIterator[None]:
        """A PostgreSQL advisory lock on the chat for the whole turn, delivery included.

        The engine's row lock covers its own transaction only; without this, a redelivery that
        reaches another worker while the first is still sending would replay the same replies.
        Session-level locks die with their connection, so a crashed worker frees its chats.
        """
        if not self._shared or self.db is None:
            yield
            return
        if self._lock_engine is None:
            self._lock_engine = create_async_engine(
                self.db.async_url,
                pool_size=self._lock_pool_size,
                # Room for a second chat held inside a turn (an agent's message relayed to the
                # customer's chat) and for the outbox flush, beyond the `_slots` turns.
                max_overflow=self._lock_pool_size,
                pool_timeout=60,
                # Session-level locks need no transaction: two round trips per turn, not four.
                isolation_level="AUTOCOMMIT",
            )
        lock_id = _lock_id(key)
        try:
            conn = await self._lock_engine.connect()
        except Exception as exc:
            raise self._store_outage(exc) from exc
        try:
            try:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_id})
            except Exception as exc:
                raise self._store_outage(exc) from exc
            try:
                yield
            finally:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_id})
                    await conn.commit()
                except Exception:
                    await conn.invalidate()  # never return a connection still holding a lock
        finally:
            await conn.close()

    @asynccontextmanager
    async def _chat_lock(self, key: str) -> AsyncIterator[None]:
        lock = self._chat_locks.get(key)
        if lock is None:
            lock = self._chat_locks[key] = asyncio.Lock()
            if len(self._chat_locks) > 10_000:
                for old_key, old in list(self._chat_locks.items())[:2_000]:
                    if not old.locked():
                        del self._chat_locks[old_key]
        async with lock:
            yield

    async def _route(self, update: Update) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is not None and chat is not None and user.language_code:
            self._hints[str(chat.id)] = user.language_code
            self._hints.move_to_end(str(chat.id))
            if len(self._hints) > 50_000:
                self._hints.popitem(last=False)
        for hook in self.hooks:
            if await hook(update, self):
                return
        if update.callback_query is not None:
            await self._on_callback(update)
            return
        message = update.message
        if message is None:
            edited = update.edited_message
            if edited is not None and edited.chat.type == ChatType.PRIVATE:
                await self._say_once(update, edited.chat.id, "utter_telegram_edited")
                return
            log.debug("ignored update %s (%s)", update.update_id, _kind(update))
            return
        if message.chat.type != ChatType.PRIVATE:
            log.debug("ignored %s message in chat %s", message.chat.type, message.chat.id)
            return
        user = message.from_user
        if user is None or user.is_bot:
            return
        if message.text is not None:
            await self._turn(update, message, text=message.text)
        elif message.animation is not None:  # a GIF also carries a `document`: not a file
            await self._say_once(update, message.chat.id, "utter_telegram_unsupported")
        elif message.photo or message.document:
            await self._on_media(update, message)
        elif message.contact is not None:
            contact = message.contact
            if contact.user_id is not None and contact.user_id == user.id:
                await self._turn(update, message, contact_phone=contact.phone_number)
            else:
                await self._say_once(update, message.chat.id, "utter_telegram_contact_not_own")
        else:
            await self._say_once(update, message.chat.id, "utter_telegram_unsupported")

    def _inbound(self, update: Update, message: Message, **fields: Any) -> InboundMessage:
        user = message.from_user
        assert user is not None
        return InboundMessage(
            channel=CHANNEL,
            user_id=str(user.id),
            chat_id=str(message.chat.id),
            message_id=str(message.message_id),
            delivery_id=str(update.update_id),
            user_name=user.full_name,
            language_hint=user.language_code,
            timestamp=message.date,
            meta={"username": user.username} if user.username else {},
            **fields,
        )

    async def _turn(self, update: Update, message: Message, **fields: Any) -> None:
        await self._handle(self._inbound(update, message, **fields), message.chat.id)

    async def _handle(self, inbound: InboundMessage, chat_id: int) -> None:
        # A slow turn (a busy database, a backend lookup) shows "typing..." meanwhile.
        typing = asyncio.get_running_loop().call_later(_TYPING_AFTER, self._typing, chat_id)
        try:
            outs = await self._engine_call(self.engine.handle(inbound))
        finally:
            typing.cancel()
        await self.deliver(outs, chat_id)
        if _may_change_language(inbound):
            await self._sync_chat_menu(chat_id, inbound.language_hint)

    def _typing(self, chat_id: int) -> None:
        async def send() -> None:
            with contextlib.suppress(TelegramError):
                await self.bot.send_chat_action(chat_id, ChatAction.TYPING)

        task = asyncio.ensure_future(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _sync_chat_menu(self, chat_id: int, hint: str | None) -> None:
        """Give a chat the command menu in its chosen language when the global menu for its
        Telegram client language would show another (e.g. 简体中文 chosen in an English app)."""
        if self.db is None:
            return
        language = await self._language(chat_id, hint)
        code = (hint or "")[:2].lower()
        shown = self.command_languages.get(code, self.command_languages.get(""))
        current = self._chat_menus.get(chat_id, shown)
        if language == current:
            return
        scope = BotCommandScopeChat(chat_id)
        try:
            if language == shown:
                await self.bot.delete_my_commands(scope=scope)
            else:
                await self.bot.set_my_commands(command_menu(self.texts, language), scope=scope)
            self._chat_menus[chat_id] = language
        except TelegramError as exc:
            log.warning("command menu of chat %s not set: %s", chat_id, exc)

    async def _engine_call(self, awaitable: Awaitable[Any]) -> Any:
        """Await a store call: an outage becomes :class:`RetryLater` (the update comes back);
        a permanent error (a unique clash, a bad value) stays what it is, never retried."""
        try:
            return await awaitable
        except Exception as exc:
            if is_outage(exc) or isinstance(exc, RetryAfter):
                raise RetryLater(f"store unavailable: {exc}") from exc
            raise

    def _store_outage(self, exc: Exception) -> Exception:
        """What to raise for ``exc`` met on the chat-lock connections (not the engine's)."""
        if not is_outage(exc):
            return exc
        if self.db is not None and not isinstance(exc, StoreUnavailable):
            exc = self.db.unavailable(exc)
        return RetryLater(f"store unavailable: {exc}")

    # ------------------------------------------------------------------ media

    async def _on_media(self, update: Update, message: Message) -> None:
        attachment = await self._download(update, message)
        if attachment is not None:
            await self._turn(update, message, text=message.caption or "", attachments=(attachment,))

    async def _on_album(self, updates: Sequence[Update]) -> None:
        """The parts of an album as one turn: every file, the caption (Telegram shows the
        first part's), delivered as the first part."""
        ordered = sorted(updates, key=lambda u: u.update_id)
        attachments: list[Attachment] = []
        caption = ""
        for part in ordered:
            message = part.message
            assert message is not None
            caption = caption or message.caption or ""
            attachment = await self._download(part, message)
            if attachment is not None:
                attachments.append(attachment)
        if attachments:
            first = ordered[0]
            assert first.message is not None
            await self._turn(first, first.message, text=caption, attachments=tuple(attachments))

    async def _download(self, update: Update, message: Message) -> Attachment | None:
        """Download a photo or document; None (after telling the user) when it cannot be."""
        if message.photo:
            photo = message.photo[-1]  # the largest size is the original
            kind, file_id, unique, size = (
                "photo",
                photo.file_id,
                photo.file_unique_id,
                photo.file_size,
            )
            name: str | None = None
            mime: str | None = "image/jpeg"
        else:
            document = message.document
            assert document is not None
            kind, file_id, unique = "document", document.file_id, document.file_unique_id
            size, name, mime = document.file_size, document.file_name, document.mime_type
        chat_id = message.chat.id
        try:
            got = await download(
                self.bot,
                file_id,
                target_dir=self.media_dir / str(chat_id),
                stem=f"{update.update_id}-{unique}",
                name=name,
                announced_size=size,
                limit=self.max_file_size,
            )
        except FileTooLarge:
            max_mb = max(1, self.max_file_size // (1024 * 1024))
            await self._say_once(update, chat_id, "utter_telegram_file_too_large", max_mb=max_mb)
            return None
        except DownloadFailed as exc:
            log.warning("download of %s failed: %s", file_id, exc)
            await self._say_once(update, chat_id, "utter_telegram_download_failed")
            return None
        except (NetworkError, RetryAfter, OSError) as exc:
            raise RetryLater(f"download failed: {exc}") from exc
        return Attachment(
            kind=kind,
            path=str(got.path),
            file_id=file_id,
            mime_type=mime,
            size=got.size,
            name=name,
            message_id=str(message.message_id),
        )

    # ------------------------------------------------------------------ buttons

    async def _on_callback(self, update: Update) -> None:
        query = update.callback_query
        assert query is not None
        message = query.message
        if message is None or message.chat.type != ChatType.PRIVATE:
            await self._answer(query.id)
            return
        chat_id = message.chat.id
        accessible = isinstance(message, Message)
        buttons = (
            flat(message.reply_markup.inline_keyboard)
            if isinstance(message, Message) and message.reply_markup
            else []
        )
        data = query.data
        match = next((b for b in buttons if b.callback_data == data), None)
        pressed = (chat_id, message.message_id)
        payload: str | None = data
        if data is not None and data.startswith(KEY_PREFIX):
            payload = await self._payload_for_key(chat_id, message.message_id, data)
        if payload is None or (accessible and match is None) or pressed in self._pressed:
            language = await self._language(chat_id, query.from_user.language_code)
            await self._answer(query.id, self.texts.text("utter_telegram_button_expired", language))
            return
        self._pressed.add(pressed)
        await self._answer(query.id)
        title = match.text if match is not None else payload
        if isinstance(message, Message):
            await self._close_keyboard(message, title)
        inbound = InboundMessage(
            channel=CHANNEL,
            user_id=str(query.from_user.id),
            chat_id=str(chat_id),
            text=title,
            payload=payload,
            message_id=f"cb:{query.id}",
            delivery_id=str(update.update_id),
            user_name=query.from_user.full_name,
            language_hint=query.from_user.language_code,
            meta={"callback_message_id": message.message_id},
        )
        try:
            await self._handle(inbound, chat_id)
        except RetryLater:
            self._pressed.discard(pressed)
            raise

    async def _answer(self, query_id: str, text: str | None = None) -> None:
        try:
            await self.bot.answer_callback_query(query_id, text=text or None)
        except TelegramError as exc:  # too old (a redelivery): nothing to answer any more
            log.debug("answerCallbackQuery %s: %s", query_id, exc)

    async def _close_keyboard(self, message: Message, title: str) -> None:
        """Remove the pressed keyboard so it cannot be pressed twice; show what was chosen."""
        try:
            if message.text:
                await self.bot.edit_message_text(
                    f"{message.text}\n\n✔ {title}",
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    entities=message.entities or None,
                )
            else:
                await self.bot.edit_message_reply_markup(
                    chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
                )
        except BadRequest as exc:  # already edited (redelivery), too old to edit, ...
            log.debug("keyboard of %s not edited: %s", message.message_id, exc)
        except (NetworkError, RetryAfter) as exc:
            log.warning("keyboard of %s not edited: %s", message.message_id, exc)

    async def _payload_for_key(self, chat_id: int, message_id: int, key: str) -> str | None:
        """The long payload behind a short callback key: remembered, or from the outbox row."""
        if key in self._long_payloads:
            return self._long_payloads[key]
        if self.db is None:
            return None
        from bot.store.models import Conversation
        from bot.store.models import Message as StoredMessage

        try:
            async with self.db.session() as session:
                row = await session.execute(
                    select(StoredMessage.data)
                    .join(Conversation, Conversation.id == StoredMessage.conversation_id)
                    .where(
                        Conversation.channel == CHANNEL,
                        Conversation.chat_id == str(chat_id),
                        StoredMessage.direction == "out",
                        StoredMessage.channel_message_id == str(message_id),
                    )
                    .limit(1)
                )
                data = row.scalar_one_or_none()
        except Exception as exc:
            if is_outage(exc):
                raise RetryLater(f"store unavailable: {exc}") from exc
            raise
        if not data:
            return None
        for button in OutboundMessage.from_dict(data).buttons:
            if payload_key(button.payload) == key:
                return button.payload
        return None

    # ------------------------------------------------------------------ sending

    async def _send(self, chat_id: int | str, out: OutboundMessage) -> str | None:
        """Send one outbound message; returns the id of the message carrying its keyboard."""
        chat = str(chat_id)
        language: str | None = None
        markup: Any = None
        if out.buttons:
            markup = inline_keyboard(out.buttons)
            for button in out.buttons:
                key = payload_key(button.payload)
                if len(button.payload.encode()) > 64 or button.payload.startswith(KEY_PREFIX):
                    self._long_payloads[key] = button.payload
                    while len(self._long_payloads) > 50_000:
                        self._long_payloads.popitem(last=False)
        elif out.request_contact:
            language = await self._language(chat_id, None)
            markup = contact_keyboard(
                self.texts.text("utter_telegram_share_contact_button", language)
            )
        elif chat in self._contact_keyboard:
            markup = ReplyKeyboardRemove()
        keyboard_id: str | None = None
        pieces = split_text(out.text)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            sent = await self.bot.send_message(
                chat_id, piece, reply_markup=markup if last else None
            )
            keyboard_id = str(sent.message_id)
        for n, image in enumerate(out.images):
            first_carrier = not pieces and n == 0
            sent = await self.bot.send_photo(
                chat_id,
                photo=_photo_input(image),
                reply_markup=markup if first_carrier else None,
            )
            if first_carrier:
                keyboard_id = str(sent.message_id)
        if out.buttons and out.request_contact:
            language = language or await self._language(chat_id, None)
            await self.bot.send_message(
                chat_id,
                self.texts.text("utter_telegram_share_contact_prompt", language),
                reply_markup=contact_keyboard(
                    self.texts.text("utter_telegram_share_contact_button", language)
                ),
            )
        if out.request_contact:
            self._contact_keyboard.add(chat)
        elif isinstance(markup, ReplyKeyboardRemove):
            self._contact_keyboard.discard(chat)
        return keyboard_id

    async def _say_once(self, update: Update, chat_id: int, response: str, **values: Any) -> None:
        """A polite channel-level answer (not stored): once per update, never an exception."""
        if update.update_id in self._answered:
            return
        self._answered.add(update.update_id)
        user = update.effective_user
        language = await self._language(chat_id, user.language_code if user else None)
        text = self.texts.text(response, language, **values)
        if not text:
            return
        try:
            await self.bot.send_message(chat_id, text)
        except Forbidden:
            try:
                await self.engine.mark_unreachable(CHANNEL, str(chat_id))
            except Exception as exc:
                if not is_outage(exc):
                    raise
        except TelegramError as exc:
            log.warning("could not answer chat %s: %s", chat_id, exc)

    async def _language(self, chat_id: int | str, hint: str | None) -> str:
        """The conversation's language if known, else from Telegram's language_code."""
        if self.db is not None:
            from bot.store.models import Conversation

            try:
                async with self.db.session() as session:
                    row = await session.execute(
                        select(Conversation.language, Conversation.slots).where(
                            Conversation.channel == CHANNEL,
                            Conversation.chat_id == str(chat_id),
                        )
                    )
                    found = row.first()
                if found is not None:
                    slot_language = (found.slots or {}).get("language")
                    if slot_language or found.language:
                        return str(slot_language or found.language)
            except Exception as exc:  # a guess is good enough: never fail an answer over it
                log.debug("language of %s unknown: %s", chat_id, exc)
        return language_from_hint(hint or self._hints.get(str(chat_id)), self.default_language)


def _photo_input(image: Attachment) -> Any:
    if image.path:
        return InputFile(Path(image.path).read_bytes(), filename=Path(image.path).name)
    return image.file_id or image.url


def _lock_id(key: str) -> int:
    """A signed 64-bit advisory lock id for a chat of this channel."""
    digest = hashlib.blake2b(f"{CHANNEL}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _may_change_language(inbound: InboundMessage) -> bool:
    text = (inbound.payload or inbound.text or "").strip().lower()
    return text.startswith(("/set_language", "/lang", "/start"))


@dataclass
class _Album:
    updates: list[Update]
    done: asyncio.Future[None]


def _album_id(update: Update) -> str | None:
    """The album a private chat's photo or file belongs to (agents' groups relay them as
    they come)."""
    message = update.message
    if (
        message is None
        or not message.media_group_id
        or message.chat.type != ChatType.PRIVATE
        or not (message.photo or message.document)
        or message.animation is not None
    ):
        return None
    return f"{message.chat.id}:{message.media_group_id}"


def _retrieved(future: asyncio.Future[None]) -> None:
    """Mark an album's failure as seen (its first part re-raises it) when no part waits."""
    if not future.cancelled():
        future.exception()


def _chat_key(update: Update) -> str:
    chat = update.effective_chat
    if chat is not None:
        return str(chat.id)
    user = update.effective_user
    return f"user:{user.id}" if user is not None else f"update:{update.update_id}"


def _kind(update: Update) -> str:
    for name in ("channel_post", "edited_channel_post", "my_chat_member", "chat_member",
                 "inline_query", "poll", "message_reaction"):  # fmt: skip
        if getattr(update, name, None) is not None:
            return name
    return "other"
