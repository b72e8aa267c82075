"""The command menu ("/" in the Telegram client) in the customer's language.

Telegram shows the menu set for the client's language; :meth:`Menus.set_commands` sets one
per configured language at start. A customer who chooses another language than their
client's (e.g. 简体中文 in an English app) gets a menu of their own in that chat.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommandScopeChat
from telegram.error import TelegramError

from bot.channels.telegram.convert import command_menu
from bot.channels.telegram.languages import Language
from bot.channels.telegram.texts import ChannelTexts
from bot.messages import InboundMessage

log = logging.getLogger(__name__)


class Menus:
    """The bot's command menus: global per client language, per chat where they differ."""

    def __init__(
        self,
        bot: Bot,
        *,
        texts: ChannelTexts,
        command_languages: dict[str, str],
        language: Language,
        per_chat: bool,
    ) -> None:
        self.bot = bot
        self.texts = texts
        self.command_languages = command_languages
        self._language = language
        self._per_chat = per_chat  # a chat's language is known only with a store
        self._chat_menus: dict[int, str] = {}  # chat -> language of its own command menu

    async def set_commands(self) -> None:
        """Set the command menu in every configured language (errors are logged only)."""
        for code, language in self.command_languages.items():
            try:
                await self.bot.set_my_commands(
                    command_menu(self.texts, language), language_code=code or None
                )
            except TelegramError as exc:
                log.warning("setMyCommands(%s) failed: %s", code or "default", exc)

    async def after_turn(self, inbound: InboundMessage, chat_id: int) -> None:
        """After a turn that may have changed the chat's language, match its menu to it."""
        if may_change_language(inbound):
            await self.sync_chat_menu(chat_id, inbound.language_hint)

    async def sync_chat_menu(self, chat_id: int, hint: str | None) -> None:
        """Give a chat the command menu in its chosen language when the global menu for its
        Telegram client language would show another (e.g. 简体中文 chosen in an English app)."""
        if not self._per_chat:
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


def may_change_language(inbound: InboundMessage) -> bool:
    """Whether the message is a command that may set the conversation's language."""
    text = (inbound.payload or inbound.text or "").strip().lower()
    return text.startswith(("/set_language", "/lang", "/start"))
