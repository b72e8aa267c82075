"""Notices in-process on SQLite and PostgreSQL: audiences, expansion once, opt-out, quiet hours,
cancelling, attachments and blocked users, with the real python-telegram-bot against the fake
Bot API (the delivery worker and its Telegram sender unmocked)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from telegram.ext import ExtBot

from bot.channels.telegram.broadcast import notice_worker
from bot.channels.telegram.ratelimit import KefuRateLimiter
from bot.clock import FrozenClock
from bot.config import Settings
from bot.dialogue.domain import load_domain
from bot.dialogue.responses import Responses
from bot.followups import FollowupWorker
from bot.notices.audience import Audience, AudienceError
from bot.notices.deliveries import Delivery, DeliveryStatus
from bot.notices.files import read_notices
from bot.notices.service import (
    NoticeDraft,
    NoticeError,
    add_tags,
    cancel_notice,
    create_notice,
    current_notices,
    is_opted_out,
    notice_handlers,
    notice_report,
    opt_in,
    opt_out,
)
from bot.records.models import Resident
from bot.store.db import Database
from bot.store.models import Contact, Conversation
from tests.fakes.bot_api import FakeBotAPI
from tests.notices.seed import seed_residents

_FIRST = itertools.count(1)


@pytest.fixture(autouse=True)
async def _no_leftovers(db_url: str) -> None:
    """On PostgreSQL the module shares a database: earlier tests' open deliveries are set
    aside, so each test's worker sees only its own notices."""
    database = Database(db_url)
    try:
        async with database.write() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.CANCELLED)
            )
    finally:
        await database.dispose()


async def residents(db: Database, url: str, clock: FrozenClock, n: int, **kw: Any) -> list[int]:
    """``n`` residents with chats (unless linked=False), tagged with a tag of their own."""
    chats = seed_residents(url, n, first_chat=100_000 * next(_FIRST) + 1_000_000, **kw)
    return chats


async def tag_chats(db: Database, clock: FrozenClock, chats: list[int], tag: str) -> None:
    async with db.write() as session:
        await add_tags(session, [(tag, f"+8529{c:07d}") for c in chats], now=clock.now())


async def notice(
    db: Database, settings: Settings, clock: FrozenClock, tag: str, **fields: Any
) -> int:
    draft = NoticeDraft(
        title={"zh-Hant": "升降機保養", "en": "Lift maintenance"},
        body={"zh-Hant": "明日上午暫停使用。"},
        audience={"tags": [tag]},
        **fields,
    )
    async with db.write() as session:
        return (await create_notice(session, draft, now=clock.now(), settings=settings)).id


async def expand_due(db: Database, settings: Settings, clock: FrozenClock) -> int:
    worker = FollowupWorker(db, settings, clock, notice_handlers(settings, clock))
    return await worker.run_until_idle()


async def counts(db: Database, notice_id: int) -> dict[str, int]:
    async with db.session() as session:
        return dict((await notice_report(session, notice_id)).counts)


def responses(settings: Settings) -> Responses:
    return Responses(load_domain(settings.dialogues_dir).responses, settings.default_language)


async def test_expanded_once_opted_out_and_unlinked_reported(
    db: Database, db_url: str, settings: Settings, clock: FrozenClock
) -> None:
    chats = await residents(db, db_url, clock, 4)
    unlinked = await residents(db, db_url, clock, 2, linked=False)
    await tag_chats(db, clock, chats + unlinked, "t-expand")
    async with db.write() as session:
        contact = await session.scalar(
            select(Conversation.contact_id).where(Conversation.chat_id == str(chats[0]))
        )
        assert contact is not None
        assert await opt_out(session, contact, now=clock.now())
        assert not await opt_out(session, contact, now=clock.now())  # once is enough
    notice_id = await notice(db, settings, clock, "t-expand")
    assert await expand_due(db, settings, clock) == 1
    assert await expand_due(db, settings, clock) == 0  # the follow-up is done: never again
    assert await counts(db, notice_id) == {"pending": 3, "opted_out": 1, "no_chat": 2}
    urgent_id = await notice(db, settings, clock, "t-expand", kind="urgent")
    await expand_due(db, settings, clock)
    assert await counts(db, urgent_id) == {"pending": 4, "no_chat": 2}  # opt-out ignored


async def test_sent_once_blocked_unreachable_attachment_uploaded_once(
    db: Database,
    db_url: str,
    settings: Settings,
    clock: FrozenClock,
    fake_api: FakeBotAPI,
    tmp_path: Path,
) -> None:
    chats = await residents(db, db_url, clock, 4)
    await tag_chats(db, clock, chats, "t-send")
    pdf = tmp_path / "lift.pdf"
    pdf.write_bytes(b"%PDF-1.4 lift maintenance")
    fake_api.block(chats[3])
    notice_id = await notice(db, settings, clock, "t-send", attachment=str(pdf))
    await expand_due(db, settings, clock)
    limiter = KefuRateLimiter(per_chat_per_second=0)
    async with ExtBot(fake_api.token, base_url=fake_api.base_url, rate_limiter=limiter) as bot:
        worker = notice_worker(bot, db, settings, clock, responses(settings))
        worker.concurrency = 1  # the first upload's file id is reused by the next ones
        assert await worker.run_until_idle() == 4
        assert await worker.run_until_idle() == 0  # nothing is sent twice
    assert await counts(db, notice_id) == {"sent": 3, "unreachable": 1}
    for chat in chats[:3]:
        assert fake_api.sent_count(chat) == 2  # the text, then the PDF
    documents = fake_api.calls_to("sendDocument")
    assert sum(1 for c in documents if not isinstance(c.params.get("document"), str)) == 1
    async with db.session() as session:
        blocked = await session.scalar(
            select(Contact.unreachable)
            .join(Conversation, Conversation.contact_id == Contact.id)
            .where(Conversation.chat_id == str(chats[3]))
        )
    assert blocked is True


async def test_ordinary_waits_for_quiet_hours_to_end_and_cancel_stops_the_rest(
    db: Database,
    db_url: str,
    settings: Settings,
    fake_api: FakeBotAPI,
) -> None:
    clock = FrozenClock(datetime(2026, 11, 27, 22, 0, tzinfo=settings.tz))  # quiet hours
    chats = await residents(db, db_url, clock, 3)
    await tag_chats(db, clock, chats, "t-quiet")
    ordinary = await notice(db, settings, clock, "t-quiet")
    cancelled = await notice(db, settings, clock, "t-quiet")
    await expand_due(db, settings, clock)
    async with ExtBot(fake_api.token, base_url=fake_api.base_url) as bot:
        worker = notice_worker(bot, db, settings, clock, responses(settings))
        assert await worker.run_until_idle() == 0
        async with db.write() as session:
            assert await cancel_notice(session, cancelled, now=clock.now()) == 3
        clock.advance(hours=11)  # 09:00: quiet hours are over
        assert await worker.run_until_idle() == 3
    assert await counts(db, ordinary) == {"sent": 3}
    assert await counts(db, cancelled) == {"cancelled": 3}
    assert all(fake_api.sent_count(chat) == 1 for chat in chats)


async def test_current_notices_follow_the_unit_and_opt_out_is_reversible(
    db: Database, db_url: str, settings: Settings, clock: FrozenClock
) -> None:
    chats = await residents(db, db_url, clock, 2)
    await tag_chats(db, clock, chats[:1], "t-current")
    notice_id = await notice(db, settings, clock, "t-current")
    old_id = await notice(db, settings, clock, "t-current")
    clock.advance(days=8)
    new_id = await notice(db, settings, clock, "t-current", until=clock.now() + timedelta(days=30))
    await expand_due(db, settings, clock)
    async with db.write() as session:
        contacts = [
            await session.scalar(
                select(Conversation.contact_id).where(Conversation.chat_id == str(chat))
            )
            for chat in chats
        ]
        mine = await current_notices(session, contacts[0] or 0, now=clock.now(), settings=settings)
        theirs = await current_notices(
            session, contacts[1] or 0, now=clock.now(), settings=settings
        )
        assert [n.id for n in mine] == [new_id]  # the older two are past notices.current_for
        assert theirs == []
        assert await opt_out(session, contacts[0] or 0, now=clock.now())
        assert await is_opted_out(session, contacts[0] or 0)
        assert await opt_in(session, contacts[0] or 0)
        assert not await is_opted_out(session, contacts[0] or 0)
    del notice_id, old_id


def test_audience_filters() -> None:
    audience = Audience.parse({"blocks": ["7"], "floors": "12, 15", "roles": ["owner"]})
    resident = Resident(
        unit_key="k", unit_parts={"block": "7", "floor": "12"}, role="owner", phone="+85291234567"
    )
    assert audience.selects(resident, set())
    resident.role = "tenant"
    assert not audience.selects(resident, set())
    assert Audience.parse({"units": ["7座15樓C室"]}).units
    with pytest.raises(AudienceError, match="unknown key"):
        Audience.parse({"building": "7"})
    with pytest.raises(AudienceError, match="nobody"):
        Audience.parse({})
    with pytest.raises(AudienceError, match="cannot read the unit"):
        Audience.parse({"units": ["somewhere"]})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": {}}, "title"),
        ({"title": {"fr": "Avis"}}, "unknown language"),
        ({"kind": "loud"}, "ordinary or urgent"),
        ({"audience": {"roles": ["landlord"]}}, "owner or tenant"),
        ({"attachment": "/nonexistent.pdf"}, "no such file"),
    ],
)
async def test_bad_notices_are_refused_in_one_line(
    db: Database, settings: Settings, clock: FrozenClock, fields: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {
        "title": {"en": "Water cut"},
        "body": {"en": "No water 2-4 pm."},
        "audience": {"residents": "all"},
    }
    values.update(fields)
    async with db.write() as session:
        with pytest.raises(NoticeError, match=message):
            await create_notice(session, NoticeDraft(**values), now=clock.now(), settings=settings)


def test_yaml_and_csv_files(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "cut.pdf").write_bytes(b"%PDF")
    yml = tmp_path / "n.yml"
    yml.write_text(
        "notices:\n"
        "- title: {zh-Hant: 停水通知, en: Water cut}\n"
        "  text: 今日下午停水。\n"
        "  audience: {blocks: ['7']}\n"
        "  kind: urgent\n"
        "  send_at: 2026-12-03 09:30\n"
        "  attachment: cut.pdf\n",
        encoding="utf-8",
    )
    (draft,) = read_notices(yml, tz=settings.tz, default_language="zh-Hant", by="ops")
    assert draft.kind == "urgent" and draft.body == {"zh-Hant": "今日下午停水。"}
    assert draft.send_at == datetime(2026, 12, 3, 9, 30, tzinfo=settings.tz)
    assert draft.attachment == str(tmp_path / "cut.pdf")
    csv_file = tmp_path / "n.csv"
    csv_file.write_text(
        "title_zh-Hant,title_en,text_zh-Hant,floors,roles,send_at\n"
        "清洗水缸,Tank cleaning,明日清洗水缸,12;15,owner,now\n"
        "壞,,,,,tomorrow\n",
        encoding="utf-8",
    )
    with pytest.raises(NoticeError, match="row 3: send_at"):
        read_notices(csv_file, tz=settings.tz, default_language="zh-Hant", by="ops")
