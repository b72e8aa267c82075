"""Sending: the engine's stored replies out to Telegram, each recorded once it is sent.

:class:`Sender` sends outbound rows under their outbox claim (:mod:`bot.dialogue.outbox`),
turns their buttons into keyboards (remembering payloads too long for ``callback_data``),
handles a blocked chat (403) and Telegram being unreachable (:class:`RetryLater`), and gives
the channel's own polite answers (:meth:`Sender.say_once`), which are not stored.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telegram import Bot, InputFile, ReplyKeyboardRemove, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram.base import CHANNEL, EngineLike, RecentKeys, RetryLater, engine_call
from bot.channels.telegram.convert import (
    KEY_PREFIX,
    contact_keyboard,
    inline_keyboard,
    payload_key,
    split_text,
)
from bot.channels.telegram.languages import Language
from bot.channels.telegram.request import Unconfirmed
from bot.channels.telegram.texts import ChannelTexts
from bot.dialogue.claims import Claims as _Claims
from bot.messages import Attachment, OutboundMessage
from bot.store.db import is_outage

log = logging.getLogger(__name__)

_MAX_LONG_PAYLOADS = 50_000


class LongPayloads:
    """Button payloads too long for Telegram's 64-byte ``callback_data``, by their short key."""

    def __init__(self) -> None:
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def remember(self, payload: str) -> None:
        """Keep ``payload`` under its key if the keyboard carries the key instead of it."""
        key = payload_key(payload)
        if len(payload.encode()) > 64 or payload.startswith(KEY_PREFIX):
            self._payloads[key] = payload
            while len(self._payloads) > _MAX_LONG_PAYLOADS:
                self._payloads.popitem(last=False)

    def get(self, key: str) -> str | None:
        """The payload remembered under ``key``, if this process sent it."""
        return self._payloads.get(key)


class Sender:
    """Delivers outbound messages to Telegram and records them as sent."""

    def __init__(
        self, bot: Bot, engine: EngineLike, *, texts: ChannelTexts, language: Language
    ) -> None:
        self.bot = bot
        self.engine = engine
        self.texts = texts
        self._language = language
        self.long_payloads = LongPayloads()
        self._contact_keyboard: set[str] = set()
        self._unrecorded = RecentKeys()  # delivered, but the store refused to record it
        self._answered = RecentKeys()

    async def deliver(
        self, outs: Sequence[OutboundMessage], chat_id: int | str | None = None
    ) -> None:
        """Send stored outbound messages and report each with ``engine.mark_sent``.

        Each stored row is sent only under a claim (:mod:`bot.dialogue.outbox`): rows handed
        out claimed (a turn's replies) are sent as they are, the others are claimed here
        first, and a row someone else holds is left to them. A 403 (blocked) marks the chat
        unreachable and stops; Telegram being unreachable raises :class:`RetryLater` (the
        rows not sent are given back to the outbox).
        """
        sending = _Claims(self.engine)
        # A row delivered whose record the store refused is never sent again by this process.
        outs = [out for out in outs if out.id is None or out.id not in self._unrecorded]
        outs = await engine_call(sending.take(outs))
        try:
            for out in outs:
                target = out.chat_id if out.chat_id is not None else chat_id
                if target is None:
                    log.error("outbound message %s has no chat", out.id)
                    continue
                if not await engine_call(sending.still_ours(out)):
                    continue  # held too long and taken over: the new holder sends it
                try:
                    sent_id = await self.send(target, out)
                except Forbidden as exc:
                    log.info("chat %s blocked the bot (%s): marked unreachable", target, exc)
                    await engine_call(self.engine.mark_unreachable(CHANNEL, str(target)))
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
            await engine_call(self.engine.mark_sent(outbound_id, sent_id))
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

    async def send(self, chat_id: int | str, out: OutboundMessage) -> str | None:
        """Send one outbound message; returns the id of the message carrying its keyboard."""
        chat = str(chat_id)
        language: str | None = None
        markup: Any = None
        if out.buttons:
            markup = inline_keyboard(out.buttons)
            for button in out.buttons:
                self.long_payloads.remember(button.payload)
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

    async def say_once(self, update: Update, chat_id: int, response: str, **values: Any) -> None:
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


def _photo_input(image: Attachment) -> Any:
    if image.path:
        return InputFile(Path(image.path).read_bytes(), filename=Path(image.path).name)
    return image.file_id or image.url
