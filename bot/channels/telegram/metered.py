"""The Telegram channel with each update counted and timed for ``/metrics``."""

from __future__ import annotations

import time

from telegram import Update

from bot.channels.telegram.channel import RetryLater, TelegramChannel
from bot.metrics import observe_update


class MeteredTelegramChannel(TelegramChannel):
    """Counts every update by result and observes its turn time; nothing else on the hot path.

    Polling and webhook both hand updates to :meth:`process_update`, so both modes are
    measured the same way. An update cancelled at shutdown is not counted: it comes back."""

    async def process_update(self, update: Update) -> None:
        started = time.perf_counter()
        try:
            await super().process_update(update)
        except RetryLater:
            observe_update("retry", time.perf_counter() - started)
            raise
        except Exception:
            observe_update("error", time.perf_counter() - started)
            raise
        observe_update("ok", time.perf_counter() - started)
