"""`kefu followups work` as its own process: it sends due call-back surveys (to the outbox, for
`kefu run` to deliver), and leaves staff alerts to `kefu run` when agents' groups take them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.followups.models import Followup, FollowupKind, FollowupStatus
from bot.followups.service import schedule
from bot.store.db import Database
from bot.store.models import Contact, Conversation, Message
from bot.tickets import open_ticket
from bot.tickets.lifecycle import resolve_ticket

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
HK = ZoneInfo("Asia/Hong_Kong")


async def _resolved_ticket_with_due_followups(url: str, chat_id: str) -> tuple[int, int, str]:
    """A resolved repair whose survey and an SLA warning are due: conversation and ticket id,
    ticket number (the PostgreSQL database is shared by the module's tests)."""
    from bot.config import load_settings

    settings = load_settings(ROOT / "config.yml", environ={}, database={"url": url})
    db = Database(url)
    now = datetime.now(HK)
    try:
        async with db.write() as session:
            contact = Contact(created_at=now, updated_at=now)
            session.add(contact)
            await session.flush()
            conversation = Conversation(
                contact_id=contact.id, channel="telegram", chat_id=chat_id, language="en",
                created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(conversation)
            await session.flush()
            ticket = await open_ticket(
                session, kind="repair", now=now, actor="test", description="tap leaking",
                category="water_leak", contact_id=contact.id, conversation_id=conversation.id,
                language="en",
            )  # fmt: skip
            await resolve_ticket(session, ticket, settings=settings, now=now, actor="staff")
            # Due now, whatever the wall clock's quiet hours would make of the survey delay.
            await session.execute(
                update(Followup)
                .where(Followup.kind == FollowupKind.SURVEY, Followup.ticket_id == ticket.id)
                .values(due_at=now - timedelta(minutes=1))
            )
            await schedule(
                session, kind=FollowupKind.SLA_WARNING, due_at=now - timedelta(minutes=1),
                idempotency_key=f"test-warning-{ticket.id}", now=now, ticket_id=ticket.id,
                payload={"deadline": "resolution", "fraction": 0.75},
            )  # fmt: skip
            return conversation.id, ticket.id, ticket.number
    finally:
        await db.dispose()


def _work_once(url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "KEFU_CONFIG": str(ROOT / "config.yml"),
        "KEFU_DATABASE_URL": url,
        "KEFU_VAR_DIR": str(tmp_path / "var"),
        **env,
    }
    if "KEFU_AGENT_GROUP_ID" not in env:
        environ.pop("KEFU_AGENT_GROUP_ID", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "followups", "work", "--once"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def _state(
    url: str, conversation_id: int, ticket_id: int
) -> tuple[dict[str, str], list[str]]:
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(Followup.kind, Followup.status).where(Followup.ticket_id == ticket_id)
                )
            ).all()
            statuses = {kind: status for kind, status in rows if kind in (
                FollowupKind.SURVEY, FollowupKind.SLA_WARNING)}  # fmt: skip
            unsent = (
                await session.execute(
                    select(Message.text).where(
                        Message.conversation_id == conversation_id,
                        Message.direction == "out",
                        Message.sent_at.is_(None),
                    )
                )
            ).scalars()
            return statuses, list(unsent)
    finally:
        await db.dispose()


# Each store once and each set-up once: the worker's claims are SQL of each dialect, whether
# it leaves alerts to `kefu run` is its settings (not the store); all four pairs cost two
# more processes (~5 s of CPU each) and proved no more.
@pytest.mark.parametrize(
    ("db_url", "groups"),
    [
        pytest.param("sqlite", False, id="sqlite-no-agent-group"),
        pytest.param("postgres", True, id="postgres-agent-group", marks=pytest.mark.postgres),
    ],
    indirect=["db_url"],
)
async def test_worker_process_sends_surveys_and_leaves_group_alerts_to_kefu_run(
    db_url: str, tmp_path: Path, groups: bool
) -> None:
    conversation_id, ticket_id, number = await _resolved_ticket_with_due_followups(
        db_url, f"44{int(groups)}"
    )
    env = {"KEFU_AGENT_GROUP_ID": "-1001234567890"} if groups else {}
    result = await asyncio.to_thread(_work_once, db_url, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "follow-ups run" in result.stdout
    statuses, unsent = await _state(db_url, conversation_id, ticket_id)
    assert statuses[FollowupKind.SURVEY] == FollowupStatus.DONE
    # The survey question waits in the outbox; kefu run's outbox sweep sends it.
    assert len(unsent) == 1 and number in unsent[0], unsent
    if groups:
        # Only kefu run can post to the agents' group: the alert waits for it, not logged away.
        assert statuses[FollowupKind.SLA_WARNING] == FollowupStatus.PENDING
    else:
        # Without groups kefu run only logs alerts too: this worker takes them.
        assert statuses[FollowupKind.SLA_WARNING] == FollowupStatus.DONE
