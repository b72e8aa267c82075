"""Poison updates: what can never be processed is set aside, so it never stalls the others.

An update whose processing fails for good (a unique-key clash, a value the store refuses, a
bug) or that python-telegram-bot cannot even parse would fail the same way on every delivery.
Holding it (the poller's offset, a webhook 503) would stall every user behind it. Instead it is
stored whole in ``dead_letters`` (``kefu updates failed``), logged in one line, the user is
told once that the message could not be processed, and the update is acknowledged.
Only an outage (:func:`bot.store.db.is_outage`) holds an update.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC
from typing import Any

from telegram import Bot
from telegram.error import Forbidden, TelegramError

from bot.channels.telegram.channel import CHANNEL, RetryLater, TelegramChannel
from bot.clock import Clock, SystemClock
from bot.metrics import DEAD_LETTERS
from bot.store.db import is_outage
from bot.store.deadletters import error_class, record_dead_letter

log = logging.getLogger(__name__)

APOLOGY = "utter_telegram_not_processed"
# The parts of an album fail together: their user hears it once.
_APOLOGY_EVERY = 30.0  # seconds
# Where an update carries the message (and so the chat and the sender).
_MESSAGE_FIELDS = ("message", "edited_message", "channel_post", "edited_channel_post")


class PoisonUpdates:
    """Sets aside updates that fail for good; shared by the poller and the webhook."""

    def __init__(self, channel: TelegramChannel, clock: Clock | None = None) -> None:
        self.channel = channel
        self.clock: Clock = clock or getattr(channel.engine, "clock", None) or SystemClock()
        self._apologised: dict[int, float] = {}

    async def set_aside(self, raw: Any, exc: BaseException) -> None:
        """Dead-letter ``raw`` (the update as received) failed with ``exc``; apologise the
        first time. Raises only :class:`RetryLater`, when the store is down: the update is
        held then; anything else is logged, and the update is let go."""
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        chat_id, hint = _private_chat(raw)
        db = self.channel.db
        attempts = 1
        if db is not None:
            try:
                attempts = await record_dead_letter(
                    db,
                    channel=CHANNEL,
                    delivery_id=str(update_id),
                    payload=raw,
                    exc=exc,
                    now=self.clock.now().astimezone(UTC),
                    chat_id=None if chat_id is None else str(chat_id),
                )
            except Exception as store_exc:
                if is_outage(store_exc):
                    raise RetryLater(f"store unavailable: {store_exc}") from store_exc
                # Not even its dead letter can be stored: the log line below is all there is.
                log.error("dead letter for update %s not stored: %r", update_id, store_exc)
        if attempts == 1:
            DEAD_LETTERS.inc()
        log.error(
            "update %s set aside as a dead letter (%s: %s)%s",
            update_id,
            error_class(exc),
            _first_line(exc),
            "" if attempts == 1 else f", seen {attempts} times",
        )
        log.debug("update %s: the failure in full", update_id, exc_info=exc)
        if attempts == 1 and chat_id is not None:
            try:
                await self._apologise(chat_id, hint)
            except Exception as apology_exc:  # never let it hold the update it is about
                log.warning("no apology for update %s: %r", update_id, apology_exc)

    async def _apologise(self, chat_id: int, hint: str | None) -> None:
        now = time.monotonic()
        if now - self._apologised.get(chat_id, -_APOLOGY_EVERY) < _APOLOGY_EVERY:
            return
        self._apologised = {c: t for c, t in self._apologised.items() if now - t < _APOLOGY_EVERY}
        self._apologised[chat_id] = now
        language = await self.channel.language(chat_id, hint)
        text = self.channel.texts.text(APOLOGY, language)
        if not text:
            return
        bot: Bot = self.channel.bot
        try:
            await bot.send_message(chat_id, text)
        except Forbidden:
            log.info("chat %s blocked the bot: no apology for its dead letter", chat_id)
        except TelegramError as exc:
            log.warning("could not tell chat %s its message was set aside: %s", chat_id, exc)


def _private_chat(raw: Any) -> tuple[int | None, str | None]:
    """The private chat a raw update came from (and its Telegram language), if it is readable;
    groups and channels are not answered."""
    if not isinstance(raw, dict):
        return None, None
    message: Any = None
    for field in _MESSAGE_FIELDS:
        if isinstance(raw.get(field), dict):
            message = raw[field]
            break
    sender: Any = None
    if message is None and isinstance(raw.get("callback_query"), dict):
        query = raw["callback_query"]
        message = query.get("message")
        sender = query.get("from")
    if not isinstance(message, dict):
        return None, None
    chat = message.get("chat")
    sender = sender if isinstance(sender, dict) else message.get("from")
    if not isinstance(chat, dict) or chat.get("type") != "private":
        return None, None
    chat_id = chat.get("id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        return None, None
    hint = sender.get("language_code") if isinstance(sender, dict) else None
    return chat_id, hint if isinstance(hint, str) else None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]
