"""``kefu tickets show --reveal``: staff see the customer's full number for the promised
call-back, and every reveal is on the ticket's audit trail; otherwise numbers stay masked.

The command runs inside the test (typer's runner, with the OS user in its environment) except
the last call, a real ``kefu`` process: its exit code and one-line error. A process per call
cost ~4.5 s of CPU each and proved nothing more about what the command prints and audits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bot.store.db import Database
from bot.store.models import Contact, Ticket, TicketEvent
from bot.tickets import open_ticket
from bot.tickets.cli import tickets_app

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]


async def _tickets(url: str) -> tuple[str, str]:
    """A repair with the caller's number, and an anonymous complaint by a known contact."""
    db = Database(url)
    await asyncio.to_thread(db.upgrade)
    now = datetime.now(UTC)
    try:
        async with db.write() as s:
            contact = Contact(phone="+85261239876", created_at=now, updated_at=now)
            s.add(contact)
            await s.flush()
            repair = await open_ticket(
                s, kind="repair", category="water_leak", now=now, actor="user",
                contact_id=contact.id, contact_phone="+85291234567",
                description="Leak, call me on 9123 4567 after 6 pm",
            )  # fmt: skip
            anonymous = await open_ticket(
                s, kind="complaint", category="noise", now=now, actor="user",
                contact_id=contact.id, anonymous=True, description="Noise at night",
            )  # fmt: skip
            return repair.number, anonymous.number
    finally:
        await db.dispose()


def _show(config: Path, *args: str, user: str = "opsuser") -> Result:
    """``kefu tickets show`` in this process, run by OS user ``user``."""
    env = {"LOGNAME": user, "USER": user, "KEFU_DATABASE_URL": None}
    result = CliRunner().invoke(tickets_app, ["show", *args, "--config", str(config)], env=env)
    assert isinstance(result.exception, SystemExit | None), result.exception  # no traceback
    return result


def _kefu(config: Path, *args: str, user: str = "opsuser") -> subprocess.CompletedProcess[str]:
    """A real ``kefu`` process."""
    env = dict(os.environ, LOGNAME=user, USER=user)
    env.pop("KEFU_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _reveals(url: str, number: str) -> list[tuple[str, dict]]:
    db = Database(url)
    try:
        async with db.session() as s:
            rows = await s.execute(
                select(TicketEvent.actor, TicketEvent.data)
                .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                .where(Ticket.number == number, TicketEvent.action == "phone_revealed")
                .order_by(TicketEvent.id)
            )
            return [(actor, data) for actor, data in rows]
    finally:
        await db.dispose()


def test_reveal_shows_the_number_and_is_audited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    config = tmp_path / "config.yml"
    config.write_text(f"database:\n  url: {url}\n", encoding="utf-8")
    repair, anonymous = asyncio.run(_tickets(url))

    masked = _show(config, repair)
    assert masked.exit_code == 0, masked.output
    assert "phone: ***4567" in masked.stdout
    assert "9123" not in masked.stdout and "91234567" not in masked.stdout
    assert "call me on ***4567 after 6 pm" in masked.stdout
    assert asyncio.run(_reveals(url, repair)) == []  # looking without --reveal is not a reveal

    shown = _show(config, repair, "--reveal", "--by", "Alice")
    assert shown.exit_code == 0, shown.output
    assert "phone: +85291234567" in shown.stdout
    assert "call me on 9123 4567" in shown.stdout
    assert "phone_revealed" in shown.stdout  # the reveal is in the history it prints

    by_os_user = _show(config, repair, "--reveal", user="ops-night")
    assert by_os_user.exit_code == 0, by_os_user.output
    reveals = asyncio.run(_reveals(url, repair))
    assert [(actor, data["by"]) for actor, data in reveals] == [
        ("staff:Alice", "Alice"),
        ("staff:ops-night", "ops-night"),
    ]

    # An anonymous complaint never reveals the contact's number; the look is still audited.
    anon = _show(config, anonymous, "--reveal", "--by", "Alice")
    assert anon.exit_code == 0, anon.output
    assert "phone: -" in anon.stdout and "6123" not in anon.stdout
    assert [d["found"] for _a, d in asyncio.run(_reveals(url, anonymous))] == [False]

    unknown = _kefu(config, "tickets", "show", "R-19990101-0001", "--reveal")
    assert unknown.returncode == 1 and "no ticket" in unknown.stderr
    assert "Traceback" not in unknown.stderr
