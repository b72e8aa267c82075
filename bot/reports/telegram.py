"""Posting a report to the managers' Telegram chat: the text (split at Telegram's 4096
characters), each chart as a photo, the workbook as a document."""

from __future__ import annotations

from pathlib import Path

from telegram import Bot

LIMIT = 4096


def chunks(text: str, limit: int = LIMIT) -> list[str]:
    """The text in pieces of at most ``limit`` characters, cut at line ends when possible."""
    out: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            out.append(current)
            current = ""
        current += line
    if current.strip():
        out.append(current)
    return [c.rstrip("\n") for c in out]


class TelegramPoster:
    """A :class:`bot.reports.schedule.Poster` on a python-telegram-bot :class:`Bot`."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def post(
        self, chat_id: int, text: str, photos: list[Path], document: Path | None
    ) -> None:
        """Send everything in order; a Telegram error propagates (the worker retries)."""
        for piece in chunks(text):
            await self.bot.send_message(chat_id, piece)
        for photo in photos:
            with Path(photo).open("rb") as data:
                await self.bot.send_photo(chat_id, data, caption=Path(photo).stem)
        if document is not None:
            with Path(document).open("rb") as data:
                await self.bot.send_document(chat_id, data, filename=Path(document).name)
