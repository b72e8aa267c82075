"""``kefu chat``: Kefu in a terminal, interactive or scripted.

When standard input is not a terminal, each line is one user message and the replies are
printed; buttons are shown as numbered options and a line holding just a number presses one.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

from bot.app import App
from bot.channels.base import Button, InboundMessage, OutboundMessage

CHANNEL = "terminal"


class TerminalChat:
    """One user talking to Kefu through standard input and output."""

    def __init__(
        self,
        app: App,
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
            async for line in self._lines():
                if self.interactive and line.strip() in ("/quit", "/exit"):
                    break
                inbound = self._inbound(line)
                replies = await engine.handle(inbound)
                self._buttons = []  # a number presses only the buttons of the latest replies
                for reply in replies:
                    self._show(reply)
                    if reply.id is not None:
                        await engine.mark_sent(reply.id)
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
        """Show what Kefu wrote to this user outside a turn (surveys, an agent's reply)."""
        for message in await self.app.engine.unsent(CHANNEL, chat_id=self.user_id):
            if message.id is None:
                continue
            self._show(message)
            await self.app.engine.mark_sent(message.id)

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

    async def _lines(self) -> AsyncIterator[str]:
        while True:
            if self.interactive:
                try:
                    line = await asyncio.to_thread(input, "you> ")
                except EOFError:
                    return
            else:
                line = await asyncio.to_thread(self.stdin.readline)
                if not line:
                    return
            yield line
