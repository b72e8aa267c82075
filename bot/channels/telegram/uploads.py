"""A customer's photo or file, downloaded to the media directory as an :class:`Attachment`.

Too large a file or one Telegram will not hand out gets a polite answer and no attachment;
Telegram or the disk being unavailable makes the update come back (:class:`RetryLater`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Protocol

from telegram import Bot, Message, Update
from telegram.error import NetworkError, RetryAfter

from bot.channels.telegram.base import RetryLater
from bot.channels.telegram.media import DownloadFailed, FileTooLarge, download
from bot.messages import Attachment

log = logging.getLogger(__name__)


class SayOnce(Protocol):
    """A channel-level answer to an update (:meth:`.sending.Sender.say_once`)."""

    def __call__(
        self, update: Update, chat_id: int, response: str, **values: Any
    ) -> Awaitable[None]: ...


class Uploads:
    """Downloads what customers send, each chat into its own folder of ``media_dir``."""

    def __init__(self, bot: Bot, *, media_dir: Path, max_file_size: int, say_once: SayOnce) -> None:
        self.bot = bot
        self.media_dir = Path(media_dir)
        self.max_file_size = max_file_size
        self._say_once = say_once

    async def download(self, update: Update, message: Message) -> Attachment | None:
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
