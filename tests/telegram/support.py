"""Helpers for the Telegram tests: settings pointing at the fake server, a stand-in engine."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings, load_settings
from bot.messages import Button, InboundMessage, OutboundMessage
from bot.store.db import StoreUnavailable
from tests.fakes.bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]
FAST_LIMITS = {
    "per_second": 0,
    "per_chat_per_second": 0,
    "group_per_minute": 0,
    "max_retries": 3,
    "network_backoff": 0.05,
}


def tg_settings(
    api: FakeBotAPI, tmp_path: Path, db_url: str | None = None, **telegram: Any
) -> Settings:
    """Project settings with Telegram pointed at the fake server and fast test limits."""
    section: dict[str, Any] = {
        "base_url": api.base_url,
        "poll_timeout": 2,
        "media_dir": str(tmp_path / "media"),
        "rate_limit": dict(FAST_LIMITS),
    }
    section.update(telegram)
    overrides: dict[str, Any] = {
        "var_dir": str(tmp_path / "var"),
        "dialogues_dir": str(ROOT / "dialogues"),
        "models_dir": str(ROOT / "models"),
        "telegram": section,
    }
    if db_url:
        overrides["database"] = {"url": db_url}
    return load_settings(ROOT / "config.yml", environ={}, **overrides)


@dataclass
class StubEngine:
    """A stand-in for the dialogue engine with the same delivery contract.

    Replies come from ``reply`` (default: echo). A delivery seen before returns its unsent
    replies only. ``down`` makes every call raise :class:`StoreUnavailable`.
    """

    reply: Callable[[InboundMessage], list[OutboundMessage]] | None = None
    delays: dict[str, float] = field(default_factory=dict)
    down: bool = False
    inbound: list[InboundMessage] = field(default_factory=list)
    outbox: dict[int, tuple[str, OutboundMessage, str | None]] = field(default_factory=dict)
    sent: dict[int, str | None] = field(default_factory=dict)
    receipts: dict[str, list[int]] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)
    claims: dict[int, str] = field(default_factory=dict)  # row -> token holding it
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _tokens: Any = field(default_factory=lambda: itertools.count(1))

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("the database at stub:// cannot be reached")

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]:
        self._check()
        if message.delivery_id in self.receipts:
            return [
                self.outbox[i][1] for i in self.receipts[message.delivery_id] if i not in self.sent
            ]
        delay = self.delays.get(message.chat_id, 0)
        if delay:
            await asyncio.sleep(delay)
        self._check()
        self.inbound.append(message)
        outs = (self.reply or echo)(message)
        stored = []
        for out in outs:
            oid = next(self._ids)
            row = OutboundMessage(
                text=out.text,
                buttons=out.buttons,
                images=out.images,
                request_contact=out.request_contact,
                id=oid,
                chat_id=message.chat_id,
            )
            self.outbox[oid] = (message.chat_id, row, message.delivery_id)
            stored.append(row)
        if message.delivery_id:
            self.receipts[message.delivery_id] = [o.id for o in stored if o.id is not None]
        return stored

    async def claim(self, ids: Sequence[int]) -> tuple[str, set[int]]:
        self._check()
        token = f"stub:{next(self._tokens)}"
        mine = {i for i in ids if i in self.outbox and i not in self.sent and i not in self.claims}
        for i in mine:
            self.claims[i] = token
        return token, mine

    async def renew(self, token: str, ids: Sequence[int]) -> set[int]:
        self._check()
        return {i for i in ids if self.claims.get(i) == token and i not in self.sent}

    async def release(self, token: str, ids: Sequence[int]) -> None:
        self._check()
        for i in ids:
            if self.claims.get(i) == token:
                del self.claims[i]

    async def mark_sent(self, outbound_id: int, channel_message_id: str | None = None) -> None:
        self._check()
        self.sent[outbound_id] = channel_message_id

    async def mark_unreachable(self, channel: str, chat_id: str) -> None:
        self._check()
        self.unreachable.append(chat_id)
        for oid, (chat, _, _) in self.outbox.items():
            if chat == chat_id and oid not in self.sent:
                self.sent[oid] = None

    async def unsent(
        self, channel: str, *, chat_id: str | None = None, limit: int = 500
    ) -> list[OutboundMessage]:
        self._check()
        return [
            row
            for oid, (chat, row, _) in self.outbox.items()
            if oid not in self.sent and (chat_id is None or chat == chat_id)
        ][:limit]


def echo(message: InboundMessage) -> list[OutboundMessage]:
    """Echo the text (or payload / attachment / phone) back."""
    if message.payload:
        return [OutboundMessage(text=f"pressed {message.text} -> {message.payload}")]
    if message.attachments:
        return [OutboundMessage(text=f"got {message.attachments[0].kind}")]
    if message.contact_phone:
        return [OutboundMessage(text=f"phone {message.contact_phone}")]
    return [OutboundMessage(text=f"echo: {message.text}")]


def with_buttons(*pairs: tuple[str, str], text: str = "Choose") -> list[OutboundMessage]:
    return [OutboundMessage(text=text, buttons=tuple(Button(t, p) for t, p in pairs))]
