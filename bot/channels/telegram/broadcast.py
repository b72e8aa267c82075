"""Campaign messages (notices) on Telegram: the :class:`~bot.notices.dispatch.Sender` that
delivery workers use, and attaching a delivery worker to a running bot.

Every request goes through the bot's own rate limiter (30/s per bot, 429s waited out and
retried, network errors retried only when surely not delivered), the same one the replies use,
so a notice to thousands never pushes the bot past Telegram's limits. An attachment is
uploaded once and then sent by its Telegram file id.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from telegram import Bot, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram.convert import split_text
from bot.channels.telegram.request import Unconfirmed
from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.responses import Responses
from bot.notices.dispatch import DeliveryWorker, Outcome, SendResult, Target
from bot.notices.service import NoticeContent, NoticeSource
from bot.store.db import Database

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024


class TelegramNoticeSender:
    """Sends a notice to one chat: its text (title and body, in the reader's language), then
    its attachment if any."""

    def __init__(self, bot: Bot, responses: Responses) -> None:
        self.bot = bot
        self.responses = responses
        self._file_ids: dict[str, str] = {}

    def text(self, content: NoticeContent, language: str) -> str:
        """The message text, from the ``utter_notice`` / ``utter_notice_urgent`` templates."""
        name = "utter_notice_urgent" if content.urgent else "utter_notice"
        return self.responses.text(name, language, {"title": content.title, "body": content.body})

    async def send(self, target: Target, content: Any) -> SendResult:
        """Send; every failure becomes an outcome (never an exception)."""
        assert isinstance(content, NoticeContent)
        language = target.language or self.responses.default_language
        chat_id = target.chat_id
        if chat_id is None:
            return SendResult(Outcome.FAILED, error="no chat")
        message_id: str | None = None
        try:
            for piece in split_text(self.text(content, language)):
                sent = await self.bot.send_message(chat_id, piece)
                message_id = message_id or str(sent.message_id)
            if content.attachment:
                await self._send_attachment(chat_id, content)
        except Forbidden as exc:
            return SendResult(Outcome.UNREACHABLE, message_id, str(exc))
        except Unconfirmed as exc:
            return SendResult(Outcome.UNCONFIRMED, message_id, str(exc))
        except (RetryAfter, NetworkError) as exc:
            if isinstance(exc, BadRequest):
                return self._bad_request(exc, message_id)
            # A first part that surely did not arrive is retried; a later one is not (the
            # text is there already, repeating it would show it twice).
            outcome = Outcome.RETRY if message_id is None else Outcome.UNCONFIRMED
            return SendResult(outcome, message_id, f"{type(exc).__name__}: {exc}")
        except BadRequest as exc:
            return self._bad_request(exc, message_id)
        except (TelegramError, OSError) as exc:
            return SendResult(Outcome.FAILED, message_id, f"{type(exc).__name__}: {exc}")
        return SendResult(Outcome.SENT, message_id)

    def _bad_request(self, exc: BadRequest, message_id: str | None) -> SendResult:
        text = str(exc).lower()
        if "chat not found" in text or "deactivated" in text:
            return SendResult(Outcome.UNREACHABLE, message_id, str(exc))
        outcome = Outcome.FAILED if message_id is None else Outcome.SENT
        return SendResult(outcome, message_id, f"BadRequest: {exc}")

    async def _send_attachment(self, chat_id: str, content: NoticeContent) -> None:
        path = str(content.attachment)
        known = self._file_ids.get(path)
        photo = content.attachment_type == "photo"
        if known is not None:
            payload: Any = known
        else:
            data = Path(path).read_bytes()
            payload = InputFile(data, filename=Path(path).name)
        if photo:
            sent = await self.bot.send_photo(chat_id, photo=payload)
            if known is None and sent.photo:
                self._file_ids[path] = sent.photo[-1].file_id
        else:
            sent = await self.bot.send_document(chat_id, document=payload)
            if known is None and sent.document is not None:
                self._file_ids[path] = sent.document.file_id


def notice_worker(
    bot: Bot, db: Database, settings: Settings, clock: Clock, responses: Responses
) -> DeliveryWorker:
    """A delivery worker sending notices through ``bot``."""
    return DeliveryWorker(
        db,
        settings,
        clock,
        TelegramNoticeSender(bot, responses),
        {"notice": NoticeSource(settings)},
    )
