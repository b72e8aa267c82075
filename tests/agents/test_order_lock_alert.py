"""Three wrong answers to an order's ownership check lock the chat's look-ups and alert the
agents' group (through the real Telegram channel, engine, NLU and store, and the fake Bot API);
without a group the alert is a warning in the log."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.agents.models import GroupPost
from bot.app import build_app
from bot.clock import FrozenClock
from bot.config import load_settings
from bot.messages import InboundMessage
from bot.records.importing import import_file
from tests.agents.support import GROUP, ROOT, Harness

ORDERS = """order_id,phone,email,items,status,carrier,tracking_number,updated_at,eta
SO88412,61234567,,Rice cooker x1,shipped,SF Express,SF1234567890,2026-11-25 14:30,2026-11-28
"""


async def _import_orders(app: Any, settings: Any, now: Any, tmp: Path) -> None:
    path = tmp / "orders.csv"
    path.write_text(ORDERS, encoding="utf-8")
    async with app.db.write() as session:
        result = await import_file(session, "orders", path, settings, now)
        assert result.ok, result.errors


async def test_a_lockout_alerts_the_agents_group(harness: Harness, tmp_path: Path) -> None:
    await _import_orders(harness.app, harness.settings, harness.clock.now(), tmp_path)
    prober = harness.api.user(580, "Prober", language_code="en")
    await harness.say(prober, "/lang en")
    await harness.say(prober, "where is my order SO88412")
    assert "last four digits" in harness.to_customer(prober)[-1]
    for wrong in ("1111", "2222"):
        await harness.say(prober, wrong)
    await harness.relay()
    assert not [c for c in harness.group_calls() if "🔒" in str(c.params.get("text"))]

    await harness.say(prober, "3333")
    assert "paused until" in harness.to_customer(prober)[-1]
    await harness.relay()
    [alert] = [c for c in harness.group_calls() if "🔒" in str(c.params.get("text"))]
    text = str(alert.params["text"])
    assert "SO88412" in text and "3" in text and "Prober (telegram 580)" in text
    assert not alert.params.get("message_thread_id")  # the General topic: no escalation
    for secret in ("SF1234567890", "Rice cooker", "61234567"):
        assert secret not in text

    # Locked: more tries are refused without another alert.
    await harness.say(prober, "where is my order SO88412")
    await harness.relay()
    assert len([c for c in harness.group_calls() if "🔒" in str(c.params.get("text"))]) == 1
    posts = [p for p in await harness.posts() if (p.data or {}).get("order_lock")]
    assert len(posts) == 1 and posts[0].sent_at is not None
    assert harness.api.sent(GROUP)


async def test_without_a_group_the_lockout_is_logged(
    tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    settings = load_settings(
        ROOT / "config.yml",
        environ={},
        database={"url": db_url},
        var_dir=str(tmp_path / "var"),
        dialogues_dir=str(ROOT / "dialogues"),
        models_dir=str(ROOT / "models"),
    )
    app = build_app(settings, clock=clock, interpreter=interpreter)
    try:
        await _import_orders(app, settings, clock.now(), tmp_path)
        caplog.set_level(logging.WARNING, logger="bot.records.orders")
        for text in ("/lang en", "where is my order SO88412", "1111", "2222", "3333"):
            await app.engine.handle(
                InboundMessage(channel="terminal", user_id="p", chat_id="p", text=text)
            )
        locked = [r for r in caplog.records if "order look-up locked" in r.getMessage()]
        assert len(locked) == 1 and "SO88412" in locked[0].getMessage()
        async with app.db.session() as session:
            from sqlalchemy import func, select

            assert await session.scalar(select(func.count()).select_from(GroupPost)) == 0
    finally:
        await app.close()
