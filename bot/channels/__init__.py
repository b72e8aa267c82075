"""Channels turn what arrives (Telegram updates, terminal lines, ...) into
:class:`bot.messages.InboundMessage` and deliver :class:`bot.messages.OutboundMessage`.
The dialogue engine never imports a channel; the message types live in :mod:`bot.messages`."""
