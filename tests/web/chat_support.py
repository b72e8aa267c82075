"""The web chat under test: the real console server (uvicorn on a free port) with the chat's
routes on a real engine, NLU and database, driven over HTTP by httpx as a browser would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.app import App
from bot.web.serve import ConsoleServer

SHOP = "http://shop.example"
EVIL = "http://evil.example"
ORDERS = """
order_id,phone,email,items,status,carrier,tracking_number,updated_at,eta
SO88412,61234567,,Rice cooker x1,shipped,SF Express,SF1234567890,2026-11-25 14:30,2026-11-28
SO88500,,carol@shop.example,Kettle,processing,,,2026-11-26 10:00,2026-11-30
"""
SHOPPER_PHONE = "61234567"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class CodeRecorder:
    """A code sender that keeps what it was asked to send (an SMS gateway's stand-in)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    async def send(self, kind: str, address: str, code: str, language: str) -> None:
        self.sent.append((kind, address, code))


@dataclass
class Served:
    app: App
    server: ConsoleServer
    codes: CodeRecorder

    def visitor(self, origin: str | None = None, language: str = "en") -> Visitor:
        headers = {"accept-language": language, "origin": origin or self.server.url}
        return Visitor(httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=30))


@dataclass
class Visitor:
    http: httpx.AsyncClient
    seen: list[dict[str, Any]] = field(default_factory=list)
    languages: list[dict[str, Any]] = field(default_factory=list)  # "language" events

    async def hello(self) -> httpx.Response:
        response = await self.http.get("/chat/api/hello")
        assert response.status_code == 200, response.text
        return response

    async def say(self, text: str, **extra: Any) -> httpx.Response:
        return await self.http.post("/chat/api/messages", json={"text": text, **extra})

    async def read(
        self,
        until: Callable[[list[dict[str, Any]]], bool],
        *,
        after: int | None = None,
        timeout: float = 30,
    ) -> list[dict[str, Any]]:
        """Messages from the stream until ``until`` holds for what arrived on this connection."""
        headers = {} if after is None else {"last-event-id": str(after)}
        items: list[dict[str, Any]] = []
        async with self.http.stream("GET", "/chat/api/stream", headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            event = "message"
            async with asyncio.timeout(timeout):
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                        (items if event == "message" else self.languages).append(data)
                        event = "message"
                    elif line.startswith(":") and until(items):
                        break  # a batch is complete and it holds what was awaited
        self.seen.extend(items)
        return items

    async def replies_to(self, text: str, **extra: Any) -> list[dict[str, Any]]:
        """Say ``text`` and read until Kefu answered it."""
        last = max((m["id"] for m in self.seen), default=0)
        response = await self.say(text, **extra)
        assert response.status_code == 202, response.text
        items = await self.read(lambda got: any(m["from"] != "visitor" for m in got), after=last)
        return [m for m in items if m["from"] != "visitor"]

    async def close(self) -> None:
        await self.http.aclose()


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)
