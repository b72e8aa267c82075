"""Downloading what users send (repair photos, payment receipts) into the media folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot
from telegram.error import BadRequest

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileTooLarge(Exception):
    """The file is larger than ``telegram.max_file_size`` (or than the Bot API serves)."""


class DownloadFailed(Exception):
    """Telegram would not give us the file (expired or invalid file_id)."""


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int


async def download(
    bot: Bot,
    file_id: str,
    *,
    target_dir: Path,
    stem: str,
    name: str | None,
    announced_size: int | None,
    limit: int,
) -> Downloaded:
    """Fetch a file into ``target_dir`` as ``<stem><suffix>``; idempotent for a redelivery.

    Raises :class:`FileTooLarge`, :class:`DownloadFailed`; network errors propagate (retryable).
    """
    if announced_size is not None and announced_size > limit:
        raise FileTooLarge
    try:
        file = await bot.get_file(file_id)
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            raise FileTooLarge from exc
        raise DownloadFailed(str(exc)) from exc
    if file.file_size is not None and file.file_size > limit:
        raise FileTooLarge
    suffix = Path(name or "").suffix or Path(file.file_path or "").suffix
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / (_SAFE.sub("_", stem) + _SAFE.sub("", suffix)[:10])
    partial = path.with_name(path.name + ".part")
    await file.download_to_drive(partial)
    size = partial.stat().st_size
    if size > limit:
        partial.unlink(missing_ok=True)
        raise FileTooLarge
    partial.replace(path)
    return Downloaded(path=path, size=size)
