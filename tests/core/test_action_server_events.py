"""``kefu actions serve`` raises the same domain events as the in-process engine: a bad survey
answered through the action server reopens the ticket and leaves the agents' desk its
topic-reopen follow-up (the listeners come from bot.app, handed in by the cli)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.core.test_action_server import _call, serving

GROUP = -1001000000006


@pytest.fixture
def served(tmp_path: object) -> Iterator[tuple[str, str]]:
    db_url = f"sqlite:///{tmp_path}/kefu.db"  # type: ignore[str-bytes-safe]
    with serving(db_url, KEFU_AGENTS__DEFAULT_GROUP_ID=str(GROUP)) as url:
        yield url, db_url


async def _resolve(db_url: str, number: str) -> None:
    from bot.config import load_settings
    from bot.store.db import Database
    from bot.tickets import get_ticket
    from bot.tickets.lifecycle import resolve_ticket

    db = Database(db_url)
    try:
        async with db.write() as session:
            ticket = await get_ticket(session, number)
            assert ticket is not None
            settings = load_settings(None, environ={}, database={"url": db_url})
            await resolve_ticket(
                session, ticket, settings=settings, now=datetime.now(UTC), actor="staff"
            )
    finally:
        await db.dispose()


async def _state(db_url: str, number: str) -> tuple[str, list[str]]:
    from bot.followups import Followup
    from bot.store.db import Database
    from bot.tickets import get_ticket

    db = Database(db_url)
    try:
        async with db.session() as session:
            ticket = await get_ticket(session, number)
            assert ticket is not None
            rows = await session.execute(select(Followup).where(Followup.ticket_id == ticket.id))
            return str(ticket.status), [f.kind for f in rows.scalars()]
    finally:
        await db.dispose()


def test_bad_survey_through_the_action_server_reopens_the_topic(served: tuple[str, str]) -> None:
    url, db_url = served
    slots = {
        "description": "Kitchen tap leaking",
        "repair_category": "water_leak",
        "unit": "1503",
        "phone": "91234567",
        "visit_time": "tomorrow morning",
        "repair_confirmed": True,
        "language": "en",
    }
    submitted = _call(url, "action_submit_repair", slots, sender="tg-carol")
    assert submitted.status_code == 200
    number = submitted.json()["responses"][0]["ticket_number"]
    asyncio.run(_resolve(db_url, number))

    survey = {"survey_ticket": number, "survey_score": 1, "survey_fixed": False,
              "survey_comment": "-", "language": "en"}  # fmt: skip
    answered = _call(url, "action_submit_survey", survey, sender="tg-carol")
    assert answered.status_code == 200, answered.text
    status, kinds = asyncio.run(_state(db_url, number))
    assert status == "open"
    assert kinds.count("agent_topic_reopen") == 1
