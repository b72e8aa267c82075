"""Kefu on Telegram (python-telegram-bot 22): polling or webhook, safe under redelivery.

Public API: :class:`TelegramBot` (one bot in a running event loop), :class:`TelegramChannel`
(``process_update``, ``deliver``, ``hooks``). ``kefu run`` itself is :mod:`bot.run`.
"""

from bot.channels.telegram.app import TelegramBot, build_application
from bot.channels.telegram.channel import CHANNEL, RetryLater, TelegramChannel

__all__ = [
    "CHANNEL",
    "RetryLater",
    "TelegramBot",
    "TelegramChannel",
    "build_application",
]
