"""Which language to answer a Telegram chat in, before or outside the dialogue engine.

The conversation's stored language wins; else the Telegram client's ``language_code`` seen
last in that chat (remembered from every update); else the configured default.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from telegram import Update

from bot.channels.telegram.base import CHANNEL
from bot.channels.telegram.convert import language_from_hint
from bot.store.db import Database

log = logging.getLogger(__name__)

_MAX_HINTS = 50_000

# How the parts of the channel ask for a chat's language: (chat id, client hint) -> language.
Language = Callable[[int | str, str | None], Awaitable[str]]


class ChatLanguages:
    """The language of each chat, for answers the channel gives itself (menus, apologies)."""

    def __init__(self, db: Database | None, default_language: str) -> None:
        self.db = db
        self.default_language = default_language
        self._hints: OrderedDict[str, str] = OrderedDict()  # chat -> Telegram language_code

    def remember(self, update: Update) -> None:
        """Keep the sender's client language of a chat: the guess when nothing is stored."""
        user, chat = update.effective_user, update.effective_chat
        if user is not None and chat is not None and user.language_code:
            self._hints[str(chat.id)] = user.language_code
            self._hints.move_to_end(str(chat.id))
            if len(self._hints) > _MAX_HINTS:
                self._hints.popitem(last=False)

    async def language(self, chat_id: int | str, hint: str | None) -> str:
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
