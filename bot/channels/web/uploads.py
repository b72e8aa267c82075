"""Photos a web visitor uploads: only the configured image types, recognised by their first
bytes (not by what the browser claims), no larger than ``web.chat.upload_max_bytes``, stored
under ``var/webchat/`` with a name of Kefu's choosing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile

from bot.config import Settings
from bot.config.web import ChatSettings

_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)


class UploadRefused(Exception):
    """Not an allowed photo (``too_big`` False) or larger than allowed (True)."""

    def __init__(self, too_big: bool = False) -> None:
        super().__init__("too big" if too_big else "not an allowed photo")
        self.too_big = too_big


def sniff(head: bytes) -> tuple[str, str] | None:
    """(MIME type, suffix) of an image by its first bytes, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    for magic, mime, suffix in _SIGNATURES:
        if head.startswith(magic):
            return mime, suffix
    return None


async def save_photo(
    upload: Any, settings: Settings, chat: ChatSettings, visitor: str
) -> tuple[Path, str, int]:
    """Store the uploaded photo; its path, type and size. :class:`UploadRefused` otherwise."""
    if not isinstance(upload, UploadFile):
        raise UploadRefused()
    data = await upload.read(chat.upload_max_bytes + 1)
    if len(data) > chat.upload_max_bytes:
        raise UploadRefused(too_big=True)
    kind = sniff(data[:16])
    if kind is None or kind[0] not in chat.upload_types:
        raise UploadRefused()
    mime, suffix = kind
    folder = Path(settings.var_dir) / "webchat" / visitor
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    return path, mime, len(data)
