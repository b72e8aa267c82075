"""Kefu's rate limiter on a real PTB bot against the fake Bot API server."""

from __future__ import annotations

import asyncio
import time

from telegram.error import Forbidden, RetryAfter
from telegram.ext import ExtBot

from bot.channels.telegram.ratelimit import KefuRateLimiter
from tests.fakes.bot_api import FakeBotAPI


def _bot(api: FakeBotAPI, limiter: KefuRateLimiter) -> ExtBot[int]:
    return ExtBot(api.token, base_url=api.base_url, rate_limiter=limiter)


async def test_per_chat_limit_does_not_slow_other_chats(fake_api: FakeBotAPI) -> None:
    limiter = KefuRateLimiter(
        per_second=0, per_chat_per_second=10, per_chat_burst=1, group_per_minute=0
    )
    async with _bot(fake_api, limiter) as bot:
        started = time.perf_counter()
        await asyncio.gather(*(bot.send_message(1, f"m{i}") for i in range(4)))
        one_chat = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.gather(*(bot.send_message(100 + i, "x") for i in range(4)))
        many_chats = time.perf_counter() - started
    assert one_chat >= 0.25  # 4 messages at 10/s with no burst
    assert many_chats < one_chat


async def test_group_limit_per_minute(fake_api: FakeBotAPI) -> None:
    limiter = KefuRateLimiter(per_second=0, per_chat_per_second=0, group_per_minute=120)
    async with _bot(fake_api, limiter) as bot:
        started = time.perf_counter()
        # 120/min is a bucket of 120 refilled at 2/s: the first 120 pass, then 2 per second.
        await asyncio.gather(*(bot.send_message(-100123, f"m{i}") for i in range(121)))
        assert time.perf_counter() - started >= 0.4


async def test_429_waits_then_succeeds_and_403_is_not_retried(fake_api: FakeBotAPI) -> None:
    limiter = KefuRateLimiter(per_second=0, per_chat_per_second=0, max_retries=2)
    async with _bot(fake_api, limiter) as bot:
        fake_api.fail("sendMessage", 429, retry_after=1, times=2)
        started = time.perf_counter()
        message = await bot.send_message(5, "hello")
        assert message.text == "hello" and time.perf_counter() - started >= 2.0
        fake_api.fail("sendMessage", 429, retry_after=1, times=3)
        try:
            await bot.send_message(5, "again")
            raise AssertionError("expected RetryAfter after max_retries")
        except RetryAfter:
            pass
        fake_api.fail("sendMessage", 403)
        try:
            await bot.send_message(5, "blocked")
            raise AssertionError("expected Forbidden")
        except Forbidden:
            pass
        statuses = [c.status for c in fake_api.calls_to("sendMessage")]
        assert statuses == [429, 429, 200, 429, 429, 429, 403]
