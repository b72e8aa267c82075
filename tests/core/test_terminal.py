"""``kefu chat``: each reply shown once, and a line that is not UTF-8 does not end the chat."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.channels.terminal import TerminalChat
from bot.clock import FrozenClock
from bot.config import Settings

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock, interpreter: Any) -> Any:
    application = build_app(settings, clock=clock, interpreter=interpreter)
    yield application
    await application.close()


async def test_a_reply_is_shown_once_when_the_outbox_job_runs_during_a_turn(app: App) -> None:
    """The interactive chat's 1-second outbox job may fire between a turn's commit and the
    turn loop showing its replies; each reply must still appear exactly once."""
    out = io.StringIO()
    chat = TerminalChat(
        app,
        "racer",
        stdin=io.StringIO("廚房水龍頭一直漏水\n3棟2單元1502室\n"),
        stdout=out,
        interactive=False,
    )
    real_handle = app.engine.handle

    async def handle_then_job_fires(message: Any) -> Any:
        replies = await real_handle(message)
        await chat._deliver_outbox()  # the scheduler's job, at the worst moment
        return replies

    app.engine.handle = handle_then_job_fires  # type: ignore[method-assign]
    await chat.run()
    shown = out.getvalue()
    assert shown.count("哪個單位") == 1, shown
    assert shown.count("甚麼時間可以上門") == 1, shown
    assert await app.engine.unsent("terminal", chat_id="racer") == []
    # whoever showed the question, its buttons are the ones a typed number presses next
    assert "越快越好" in [b.title for b in chat._buttons]


def test_a_line_that_is_not_utf8_is_stored_apologised_for_and_the_chat_goes_on(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        f"var_dir: {tmp_path / 'var'}\n"
        f"models_dir: {ROOT / 'models'}\n"
        f"dialogues_dir: {ROOT / 'dialogues'}\n"
        "default_language: en\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--config", str(config), "--user", "bytes"],
        input=b"caf\xe9 \xff\xfe broken\nmy kitchen sink is leaking\n",
        capture_output=True,
        cwd=ROOT,
        timeout=180,
    )
    stdout = result.stdout.decode("utf-8")
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "could not be read" in stdout  # the apology, from dialogues/
    assert "Which flat" in stdout  # the next line was read and answered
    with sqlite3.connect(tmp_path / "var" / "kefu.db") as db:
        texts = [t for (t,) in db.execute("SELECT text FROM messages WHERE direction = 'in'")]
    assert texts == ["caf\ufffd \ufffd\ufffd broken", "my kitchen sink is leaking"]


async def test_a_typed_5_in_the_terminal_survey_is_the_best_score(
    app: App, clock: FrozenClock
) -> None:
    """Buttons are numbered in the terminal, and the question says "5 is best": typing 5 must
    be score 5, not the fifth button."""
    from sqlalchemy import select

    from bot.messages import InboundMessage
    from bot.store.models import Ticket
    from bot.tickets.lifecycle import resolve_ticket

    for text in ["浴室水龍頭漏水", "3棟2單元1502室", "任何時間", "91234567", "確認提交"]:
        payload = "/affirm" if text == "確認提交" else None
        for reply in await app.engine.handle(
            InboundMessage(
                channel="terminal", user_id="rater", chat_id="rater", text=text, payload=payload
            )
        ):
            await app.engine.mark_sent(reply.id)
    async with app.db.write() as session:
        ticket = (await session.execute(select(Ticket))).scalar_one()
        await resolve_ticket(session, ticket, settings=app.settings, now=clock.now(), actor="s")
    clock.advance(app.settings.sla.survey_delay)
    await app.followup_worker().run_until_idle(clock.now())

    out = io.StringIO()
    await TerminalChat(
        app, "rater", stdin=io.StringIO("5\n1\n2\n"), stdout=out, interactive=False
    ).run()
    async with app.db.session() as session:
        ticket = (await session.execute(select(Ticket))).scalar_one()
    assert ticket.survey_score == 5, out.getvalue()
    assert ticket.survey_fixed is True
    # A happy customer does not reopen the ticket; a good call-back closes it (issue 14).
    assert ticket.status == "closed"
