"""Buttons: a press on an inline keyboard becomes a turn, at most once per keyboard.

The pressed keyboard is closed (its text shows the choice), a second press or a press on a
keyboard Kefu no longer knows gets the "expired" answer, and a payload too long for
``callback_data`` is found again behind its short key (remembered, or in the outbox row).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from telegram import Bot, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram.base import CHANNEL, RecentKeys, RetryLater
from bot.channels.telegram.convert import KEY_PREFIX, flat, payload_key
from bot.channels.telegram.languages import Language
from bot.channels.telegram.sending import LongPayloads
from bot.channels.telegram.texts import ChannelTexts
from bot.messages import InboundMessage, OutboundMessage
from bot.store.db import Database, is_outage

log = logging.getLogger(__name__)

Handle = Callable[[InboundMessage, int], Awaitable[None]]


class Buttons:
    """Turns callback queries into inbound messages for ``handle`` (a turn of the chat)."""

    def __init__(
        self,
        bot: Bot,
        *,
        texts: ChannelTexts,
        db: Database | None,
        language: Language,
        long_payloads: LongPayloads,
        handle: Handle,
    ) -> None:
        self.bot = bot
        self.texts = texts
        self.db = db
        self._language = language
        self._long_payloads = long_payloads
        self._handle = handle
        self._pressed = RecentKeys()

    async def on_callback(self, update: Update) -> None:
        """Answer a button press and, the first time a known keyboard is pressed, take the
        turn it asks for; :class:`RetryLater` lets the same press come back."""
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
        remembered = self._long_payloads.get(key)
        if remembered is not None:
            return remembered
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
