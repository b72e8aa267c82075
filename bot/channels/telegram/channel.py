"""The Telegram channel: updates in, the dialogue engine, replies out.

One :class:`TelegramChannel` per process. :meth:`TelegramChannel.process_update` handles one
update completely (engine turn and delivery of the replies) and raises :class:`RetryLater` when
the update must be delivered again (database down, Telegram unreachable): the poller then does
not acknowledge it and the webhook answers 5xx. Updates of one chat are processed in order;
different chats run concurrently.

This module is the router (which update goes where); its parts live beside it: per-chat
order in :mod:`.sequencing`, albums in :mod:`.albums`, downloads in :mod:`.uploads`, button
presses in :mod:`.buttons`, sending in :mod:`.sending`, command menus in :mod:`.menus`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from telegram import Bot, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError

from bot.channels.telegram.albums import ALBUM_WAIT, Albums, album_id
from bot.channels.telegram.base import (
    CHANNEL,
    RETRYABLE,
    EngineLike,
    RetryLater,
    engine_call,
)
from bot.channels.telegram.buttons import Buttons
from bot.channels.telegram.convert import default_command_languages
from bot.channels.telegram.languages import ChatLanguages
from bot.channels.telegram.menus import Menus
from bot.channels.telegram.sending import Sender
from bot.channels.telegram.sequencing import ChatSequencer
from bot.channels.telegram.texts import ChannelTexts
from bot.channels.telegram.uploads import Uploads
from bot.messages import Attachment, InboundMessage, OutboundMessage
from bot.store.db import Database

__all__ = [
    "ALBUM_WAIT",
    "CHANNEL",
    "RETRYABLE",
    "EngineLike",
    "RetryLater",
    "TelegramChannel",
    "UpdateHook",
]

log = logging.getLogger(__name__)

_TYPING_AFTER = 1.5  # seconds before a slow turn shows "typing..."

UpdateHook = Callable[[Update, "TelegramChannel"], Awaitable[bool]]


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
        self._languages = ChatLanguages(db, default_language)
        self._sequencer = ChatSequencer(db, concurrency=concurrency, shared_locks=shared_locks)
        self._albums = Albums()
        self._sender = Sender(bot, engine, texts=texts, language=self._languages.language)
        self._uploads = Uploads(
            bot, media_dir=self.media_dir, max_file_size=max_file_size, say_once=self._say_once
        )
        self._menus = Menus(
            bot,
            texts=texts,
            command_languages=self.command_languages,
            language=self._languages.language,
            per_chat=db is not None,
        )
        self._buttons = Buttons(
            bot,
            texts=texts,
            db=db,
            language=self._languages.language,
            long_payloads=self._sender.long_payloads,
            handle=self._handle,
        )
        self._background: set[asyncio.Future[None]] = set()

    # ------------------------------------------------------------------ public API

    async def process_update(self, update: Update) -> None:
        """Handle one update fully; :class:`RetryLater` if it must be delivered again.

        A user's album (several photos or files sent at once, one update each) is one turn:
        the first part waits :data:`ALBUM_WAIT` for the others, then handles them all; each
        other part returns when that turn is done, or fails with it (and comes back with it).
        """
        album = album_id(update)
        if album is None:
            await self._sequencer.run(update, self._route)
            return

        async def whole_album(parts: Sequence[Update]) -> None:
            await self._sequencer.run(update, lambda _update: self._on_album(parts))

        await self._albums.gather(album, update, whole_album)

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
        await self._sender.deliver(outs, chat_id)

    async def flush_outbox(self, *, skip_busy: bool = False) -> int:
        """Send what the outbox still holds for Telegram (after a crash, or written by another
        process); returns how many rows were found. ``skip_busy`` leaves out chats whose turn
        is running here: that turn sends its own replies (the periodic sweep's case)."""
        pending = await engine_call(self.engine.unsent(CHANNEL))
        chats = {str(out.chat_id) for out in pending}
        if skip_busy:
            chats = {c for c in chats if not self._sequencer.busy(c)}

        async def one_chat(chat: str) -> None:
            async with self.chat_lock(chat):
                # Again under the lock: another worker may have sent them meanwhile.
                fresh = await engine_call(self.engine.unsent(CHANNEL, chat_id=chat))
                await self.deliver(fresh)

        results = await asyncio.gather(*(one_chat(c) for c in chats), return_exceptions=True)
        for result in results:
            if isinstance(result, RetryLater):  # an outage: said once by the store
                log.debug("outbox flush incomplete: %s", result)
            elif isinstance(result, BaseException):
                log.warning("outbox flush incomplete: %s", result)
        return len(pending)

    async def set_commands(self) -> None:
        """Set the command menu in every configured language (errors are logged only)."""
        await self._menus.set_commands()

    @asynccontextmanager
    async def chat_lock(self, chat_id: int | str) -> AsyncIterator[None]:
        """Hold a chat for this task alone, in this process and (PostgreSQL) in every worker.

        Take it around :meth:`deliver` when sending outside :meth:`process_update`.
        """
        async with self._sequencer.chat_lock(chat_id):
            yield

    async def language(self, chat_id: int | str, hint: str | None) -> str:
        """The language to answer a chat in outside a turn: the conversation's if known,
        else from Telegram's language_code (``hint``, or the chat's last seen)."""
        return await self._languages.language(chat_id, hint)

    async def close(self) -> None:
        """Release the connections of the cross-worker chat locks."""
        await self._sequencer.close()

    # ------------------------------------------------------------------ routing

    async def _route(self, update: Update) -> None:
        self._languages.remember(update)
        for hook in self.hooks:
            if await hook(update, self):
                return
        if update.callback_query is not None:
            await self._buttons.on_callback(update)
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
            outs = await engine_call(self.engine.handle(inbound))
        finally:
            typing.cancel()
        await self.deliver(outs, chat_id)
        await self._menus.after_turn(inbound, chat_id)

    def _typing(self, chat_id: int) -> None:
        async def send() -> None:
            with contextlib.suppress(TelegramError):
                await self.bot.send_chat_action(chat_id, ChatAction.TYPING)

        task = asyncio.ensure_future(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _say_once(self, update: Update, chat_id: int, response: str, **values: Any) -> None:
        await self._sender.say_once(update, chat_id, response, **values)

    # ------------------------------------------------------------------ media

    async def _on_media(self, update: Update, message: Message) -> None:
        attachment = await self._uploads.download(update, message)
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
            attachment = await self._uploads.download(part, message)
            if attachment is not None:
                attachments.append(attachment)
        if attachments:
            first = ordered[0]
            assert first.message is not None
            await self._turn(first, first.message, text=caption, attachments=tuple(attachments))


def _kind(update: Update) -> str:
    for name in ("channel_post", "edited_channel_post", "my_chat_member", "chat_member",
                 "inline_query", "poll", "message_reaction"):  # fmt: skip
        if getattr(update, name, None) is not None:
            return name
    return "other"
