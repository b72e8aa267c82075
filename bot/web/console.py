"""What every request handler of the console needs, built once per process by
:func:`bot.web.app.create_app` and found on ``request.app.state.console``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.templating import Jinja2Templates

from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.responses import Responses
from bot.store.db import Database
from bot.web.live import LiveFeed


@dataclass
class Console:
    """What every request handler needs, built once per process."""

    settings: Settings
    db: Database
    clock: Clock
    responses: Responses
    templates: Jinja2Templates
    live: LiveFeed

    def text(self, key: str, language: str, **values: Any) -> str:
        """A console text (``dialogues/console.yml``) in ``language``."""
        return self.responses.text(f"utter_console_{key}", language, values)
