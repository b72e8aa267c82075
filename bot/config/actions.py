"""Action server settings: where ``kefu actions serve`` listens (used by bot.actions.server)."""

from __future__ import annotations

from pydantic import Field

from bot.config.base import Section


class ActionsSettings(Section):
    """``kefu actions serve``: the Rasa action server, run only beside a real Rasa."""

    # Loopback by default: the server sits next to Rasa, never on a public address.
    host: str = "127.0.0.1"
    port: int = Field(default=5055, ge=1, le=65535)
    # Rasa's ``action_endpoint.token`` (sent as ``?token=``); a secret, so set it in the
    # environment (KEFU_ACTIONS_TOKEN). The server refuses to start without one.
    token: str | None = None
