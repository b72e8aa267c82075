"""Channels turn what arrives (Telegram updates, terminal lines, ...) into :class:`InboundMessage`
and deliver :class:`OutboundMessage`. The dialogue engine never imports a channel."""

from bot.channels.base import Attachment, Button, InboundMessage, OutboundMessage

__all__ = ["Attachment", "Button", "InboundMessage", "OutboundMessage"]
