"""``kefu chat``: Kefu in a terminal, interactive or scripted.

When standard input is not a terminal, each line is one user message and the replies are
printed; buttons are shown as numbered options and a line holding just a number presses one.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any, Protocol, TextIO

from sqlalchemy import select

from bot.config import Settings
from bot.dialogue.claims import Claims
from bot.dialogue.engine import Engine
from bot.followups import FollowupWorker
from bot.messages import Button, InboundMessage, OutboundMessage
from bot.store.db import Database
from bot.store.models import Conversation

CHANNEL = "terminal"


class ChatHost(Protocol):
    """What the terminal chat needs of the process (``kefu chat`` passes its
    :class:`bot.app.App`): a channel is handed the app, it never builds or imports it."""

    settings: Settings
    db: Database
    engine: Engine

    def followup_worker(self) -> FollowupWorker: ...


def decode_line(line: str | bytes) -> tuple[str, bool]:
    """A line of input as text, and whether some of it was not UTF-8.

    Bytes that are not UTF-8 (a Latin-1 or GBK terminal, a binary file piped in) become U+FFFD
    instead of stopping the chat; Python's surrogate escapes for such bytes would make the
    message impossible to store.
    """
    raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), True


class TerminalChat:
    """One user talking to Kefu through standard input and output."""

    def __init__(
        self,
        app: ChatHost,
        user_id: str,
        *,
        phone: str | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.app = app
        self.user_id = user_id
        self.phone = phone
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.interactive = self.stdin.isatty() if interactive is None else interactive
        self._buttons: list[Button] = []
        # One path shows Kefu's messages: the outbox, one delivery at a time. The turn loop
        # and the 1-second outbox job both go through it, so a reply is never shown twice.
        self._delivering = asyncio.Lock()

    async def run(self) -> None:
        """Chat until end of input (or ``/quit`` when interactive).

        Interactive sessions also run the follow-up worker, so a call-back survey that falls
        due while you chat (try ``KEFU_SLA__SURVEY_DELAY=0s`` and ``kefu tickets resolve``)
        appears here like it would on Telegram.
        """
        engine = self.app.engine
        self._buttons = []
        for message in await engine.resume(CHANNEL, self.user_id):
            self._show(message)
        await self._deliver_outbox()
        scheduler = self._start_followups() if self.interactive else None
        try:
            async for line, garbled in self._lines():
                if self.interactive and line.strip() in ("/quit", "/exit"):
                    break
                inbound = self._inbound(line)
                self._buttons = []  # a number presses only the buttons of the latest replies
                replies = await engine.handle(inbound)
                if garbled:
                    await self._apologise_for_encoding()
                await self._deliver(replies)
                await self._deliver_outbox()
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)

    def _start_followups(self) -> Any:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        scheduler = AsyncIOScheduler(timezone=self.app.settings.tz)
        self.app.followup_worker().attach(scheduler)
        scheduler.add_job(self._deliver_outbox, "interval", seconds=1, max_instances=1)
        scheduler.start()
        return scheduler

    async def _deliver_outbox(self) -> None:
        """Show what Kefu wrote to this user and has not shown yet: a turn's replies, and what
        came outside a turn (surveys, an agent's reply)."""
        await self._deliver(await self.app.engine.unsent(CHANNEL, chat_id=self.user_id))

    async def _deliver(self, messages: list[OutboundMessage]) -> None:
        """Show ``messages`` under their claims (a turn's replies come claimed, others are
        claimed here), so that the turn loop and the outbox job never show one twice."""
        async with self._delivering:
            claims = Claims(self.app.engine)
            try:
                for message in await claims.take(messages):
                    self._show(message)
                    claims.done(message)
                    if message.id is not None:
                        await self.app.engine.mark_sent(message.id)
            finally:
                await claims.give_back()

    async def _apologise_for_encoding(self) -> None:
        """Say that part of the line could not be read (it was stored with U+FFFD in its place)."""
        async with self.app.db.session() as session:
            language = (
                await session.execute(
                    select(Conversation.language).where(
                        Conversation.channel == CHANNEL, Conversation.chat_id == self.user_id
                    )
                )
            ).scalar_one_or_none()
        language = language or self.app.settings.default_language
        self._show(OutboundMessage(text=self.app.engine.responses.text("utter_not_utf8", language)))

    def _inbound(self, line: str) -> InboundMessage:
        text = line.rstrip("\r\n")
        payload = None
        stripped = text.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self._buttons):
            button = self._buttons[int(stripped) - 1]
            payload, text = button.payload, button.title
        return InboundMessage(
            channel=CHANNEL,
            user_id=self.user_id,
            chat_id=self.user_id,
            text=text,
            payload=payload,
            contact_phone=self.phone,
            user_name=self.user_id,
        )

    def _show(self, message: OutboundMessage) -> None:
        prefix = "kefu> " if self.interactive else ""
        lines = message.text.splitlines() or [""]
        print(prefix + lines[0], file=self.stdout)
        for line in lines[1:]:
            print(" " * len(prefix) + line, file=self.stdout)
        for image in message.images:
            print(f"{' ' * len(prefix)}[image: {image.url or image.path}]", file=self.stdout)
        if message.buttons:
            self._buttons = list(message.buttons)
            for number, button in enumerate(message.buttons, 1):
                print(f"{' ' * len(prefix)}  {number}) {button.title}", file=self.stdout)
        self.stdout.flush()

    async def _lines(self) -> AsyncIterator[tuple[str, bool]]:
        # Bytes where we can get them, so that a line that is not UTF-8 cannot stop the chat.
        binary = getattr(self.stdin, "buffer", None)
        if self.interactive and hasattr(sys.stdin, "reconfigure"):
            sys.stdin.reconfigure(errors="surrogateescape")  # input() keeps bad bytes for us
        while True:
            line: str | bytes
            if self.interactive:
                try:
                    line = await asyncio.to_thread(input, "you> ")
                except EOFError:
                    return
            elif binary is not None:
                line = await asyncio.to_thread(binary.readline)
                if not line:
                    return
            else:
                line = await asyncio.to_thread(self.stdin.readline)
                if not line:
                    return
            yield decode_line(line)
