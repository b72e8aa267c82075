"""Albums: the photos or files a user sends at once arrive as one update each; one turn.

The first part to arrive waits :data:`ALBUM_WAIT` for the others, then has the whole album
handled; each other part returns when that is done, or fails with it (and so comes back with
it: none of them is acknowledged alone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatType

# Telegram sends an album's photos as separate updates, together; wait this long for the rest.
ALBUM_WAIT = 0.8

AlbumHandler = Callable[[Sequence[Update]], Awaitable[None]]


@dataclass
class _Album:
    updates: list[Update]
    done: asyncio.Future[None]


class Albums:
    """The albums being gathered in this process, by :func:`album_id`."""

    def __init__(self) -> None:
        self._albums: dict[str, _Album] = {}

    async def gather(self, album: str, update: Update, handle: AlbumHandler) -> None:
        """Add ``update`` to its album; the first part calls ``handle`` with every part."""
        parts = self._albums.get(album)
        if parts is not None:
            parts.updates.append(update)
            await asyncio.shield(parts.done)
            return
        parts = self._albums[album] = _Album([update], asyncio.get_running_loop().create_future())
        parts.done.add_done_callback(_retrieved)
        try:
            try:
                await asyncio.sleep(ALBUM_WAIT)
            finally:
                del self._albums[album]
            await handle(parts.updates)
        except asyncio.CancelledError:
            parts.done.cancel()  # shutting down: the other parts are not acknowledged either
            raise
        except BaseException as exc:
            parts.done.set_exception(exc)
            raise
        parts.done.set_result(None)


def album_id(update: Update) -> str | None:
    """The album a private chat's photo or file belongs to (agents' groups relay them as
    they come)."""
    message = update.message
    if (
        message is None
        or not message.media_group_id
        or message.chat.type != ChatType.PRIVATE
        or not (message.photo or message.document)
        or message.animation is not None
    ):
        return None
    return f"{message.chat.id}:{message.media_group_id}"


def _retrieved(future: asyncio.Future[None]) -> None:
    """Mark an album's failure as seen (its first part re-raises it) when no part waits."""
    if not future.cancelled():
        future.exception()
