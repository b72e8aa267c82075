"""The channel-neutral message types that channels and the dialogue share, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the user sent (photo, document) or that Kefu sends (image)."""

    kind: str  # "photo" | "document" | "image"
    path: str | None = None  # local file (downloaded media or an image to send)
    url: str | None = None
    file_id: str | None = None  # the channel's own id (Telegram file_id)
    mime_type: str | None = None
    size: int | None = None
    name: str | None = None
    message_id: str | None = None  # the channel's message that carried it (one per album part)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in _asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Button:
    """A fixed choice; ``payload`` is what pressing it sends, Rasa style: ``/intent{"k": "v"}``."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """Whatever arrives from a user, channel-neutral.

    ``delivery_id`` identifies one delivery of the channel (a Telegram ``update_id``); the engine
    processes a delivery once and replays its stored replies if it arrives again.
    ``payload`` is set when the user pressed a button (the button's payload).
    ``contact_phone`` is a phone number the channel verified (Telegram contact sharing).
    """

    channel: str
    user_id: str
    chat_id: str
    text: str = ""
    message_id: str | None = None
    delivery_id: str | None = None
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    contact_phone: str | None = None
    user_name: str | None = None
    language_hint: str | None = None  # e.g. Telegram's language_code
    timestamp: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What Kefu says: text, optional buttons and images.

    ``id`` is the stored message's id: the channel reports delivery with it
    (:meth:`bot.dialogue.engine.Engine.mark_sent`) so nothing is sent twice.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    images: tuple[Attachment, ...] = ()
    request_contact: bool = False
    id: int | None = None
    chat_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.images:
            data["images"] = [i.to_dict() for i in self.images]
        if self.request_contact:
            data["request_contact"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> OutboundMessage:
        return cls(
            text=data.get("text", ""),
            buttons=tuple(Button(b["title"], b["payload"]) for b in data.get("buttons", [])),
            images=tuple(Attachment(**i) for i in data.get("images", [])),
            request_contact=bool(data.get("request_contact")),
            **kwargs,
        )


def _asdict(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
