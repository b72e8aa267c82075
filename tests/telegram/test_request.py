"""Kefu's aiohttp transport under PTB: errors become PTB's, timeouts keep PTB's meaning."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.channels.telegram.request import AiohttpRequest
from tests.fakes.bot_api import FakeBotAPI


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bot"
    for writer in held:
        writer.close()
    server.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_bot_api_calls_work_through_aiohttp() -> None:
    with FakeBotAPI() as api:
        request = AiohttpRequest(4)
        async with Bot(api.token, base_url=api.base_url, request=request) as bot:
            me = await bot.get_me()
            user = api.user(501, "Ann")
            sent = await bot.send_message(user.id, "你好 ✓", reply_markup=None)
        assert me.username == api.bot_user.username
        assert sent.text == "你好 ✓"
        assert api.texts(user.id) == ["你好 ✓"]


async def test_no_answer_within_read_timeout_is_timed_out(silent_server: str) -> None:
    request = AiohttpRequest(1, read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"{silent_server}TOKEN/getMe")
    finally:
        await request.shutdown()


async def test_refused_connection_is_a_network_error() -> None:
    request = AiohttpRequest(1, connect_timeout=2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{_closed_port()}/botTOKEN/getMe")
        assert not isinstance(caught.value, TimedOut)
    finally:
        await request.shutdown()


async def test_not_initialized_is_refused() -> None:
    with pytest.raises(RuntimeError):
        await AiohttpRequest().do_request("http://127.0.0.1:1/", "POST")
