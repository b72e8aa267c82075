"""The photos and documents a customer sent, served to staff on the ticket page.

Only a file attached to an inbound message of the ticket's own conversation, and only from the
folders where the channels keep what customers send (``telegram.media_dir``, the web chat's
uploads under ``var_dir``): a stored path elsewhere is never read, whatever the database says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.store.models import Message, Ticket

INLINE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif"}


@dataclass(frozen=True)
class StoredFile:
    """A file to send back: where it is, its type and the name to offer."""

    path: Path
    media_type: str
    name: str


def media_roots(settings: Settings) -> list[Path]:
    """The folders the channels write customers' files into."""
    telegram = settings.telegram.media_dir or Path(settings.var_dir) / "media"
    return [Path(telegram).resolve(), (Path(settings.var_dir) / "webchat").resolve()]


async def customer_file(
    session: AsyncSession, number: str, message_id: int, index: int, settings: Settings
) -> StoredFile | None:
    """Attachment ``index`` of message ``message_id`` if it belongs to ticket ``number``'s
    conversation, came from the customer, and lies in a media folder; else None."""
    ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None or ticket.conversation_id is None:
        return None
    message = await session.get(Message, message_id)
    if message is None or message.conversation_id != ticket.conversation_id:
        return None
    if message.direction != "in":
        return None
    files = (message.data or {}).get("attachments") or []
    if not 0 <= index < len(files) or not isinstance(files[index], dict):
        return None
    raw = files[index].get("path")
    if not raw:
        return None
    path = Path(raw).resolve()
    if not any(path.is_relative_to(root) for root in media_roots(settings)) or not path.is_file():
        return None
    media_type = str(files[index].get("mime_type") or "application/octet-stream")
    name = str(files[index].get("name") or path.name)
    return StoredFile(path, media_type, name)
