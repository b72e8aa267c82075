"""One user talking to Kefu on the terminal channel, for the records conversation tests."""

from __future__ import annotations

from bot.app import App
from bot.messages import Attachment, InboundMessage, OutboundMessage


class Chat:
    """Says things, presses buttons and keeps a readable log of the conversation."""

    def __init__(self, app: App, user: str) -> None:
        self.app = app
        self.user = user
        self.last: list[OutboundMessage] = []
        self.log: list[str] = []

    async def say(
        self,
        text: str = "",
        *,
        phone: str | None = None,
        photo: bool = False,
        payload: str | None = None,
    ) -> str:
        """Send ``text`` (or a button's ``payload``, a shared ``phone``, a photo); the replies."""
        attachments = (Attachment(kind="photo", file_id="receipt-1"),) if photo else ()
        self.last = await self.app.engine.handle(
            InboundMessage(
                channel="terminal",
                user_id=self.user,
                chat_id=self.user,
                text=text,
                payload=payload,
                contact_phone=phone,
                attachments=attachments,
            )
        )
        for reply in self.last:
            if reply.id is not None:
                await self.app.engine.mark_sent(reply.id)
        self.log.append(f"> {text or payload or phone or '[photo]'}")
        self.log.extend(f"< {r.text} {[b.title for b in r.buttons]}" for r in self.last)
        return "\n".join(r.text for r in self.last)

    def buttons(self) -> list[tuple[str, str]]:
        """(title, payload) of the buttons the last replies offered."""
        return [(b.title, b.payload) for r in self.last for b in r.buttons]

    def button(self, title: str) -> str:
        """The payload of the offered button called ``title``."""
        for found, payload in self.buttons():
            if found == title:
                return payload
        raise AssertionError(f"no button {title!r} in\n{self.transcript}")

    @property
    def transcript(self) -> str:
        return "\n".join(self.log)
