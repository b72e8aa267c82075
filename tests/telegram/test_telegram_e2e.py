"""Kefu end to end on Telegram: the real engine and store behind the real PTB Application,
against the fake Bot API server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot.app import App, build_app
from bot.channels.telegram import TelegramBot
from bot.clock import FrozenClock
from bot.store.models import Contact, Message, Ticket
from bot.store.urls import sync_url
from tests.fakes.bot_api import FakeBotAPI, FakeUser
from tests.fakes.completions import Completions
from tests.fakes.tcp_proxy import TcpProxy
from tests.telegram.support import ROOT, tg_settings

pytestmark = pytest.mark.process

SECRET = "e2e-secret"


class Kefu:
    """The app and its Telegram bot; can be stopped and started again (a restart)."""

    def __init__(
        self, api: FakeBotAPI, settings: Any, clock: FrozenClock, interpreter: Any
    ) -> None:
        self.api = api
        self.settings = settings
        self.clock = clock
        self.interpreter = interpreter
        self.app: App | None = None
        self.bot: TelegramBot | None = None

    async def start(self) -> TelegramBot:
        self.app = build_app(self.settings, clock=self.clock, interpreter=self.interpreter)
        self.bot = TelegramBot(
            self.settings,
            self.app.engine,
            token=self.api.token,
            db=self.app.db,
            webhook_secret=SECRET,
        )
        await self.bot.start()
        return self.bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.stop()
        if self.app is not None:
            await self.app.close()

    async def tickets(self) -> list[Ticket]:
        assert self.app is not None
        async with self.app.db.session() as session:
            return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars())


@pytest.fixture
async def kefu(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any
) -> AsyncIterator[Kefu]:
    k = Kefu(fake_api, tg_settings(fake_api, tmp_path, db_url), clock, interpreter)
    await k.start()
    yield k
    await k.stop()


class Chat:
    """One customer talking to the bot through the fake server, step by step."""

    def __init__(self, api: FakeBotAPI, user: FakeUser) -> None:
        self.api = api
        self.user = user

    async def _wait_reply(self, before: int, update_id: int) -> list[str]:
        await self.api.until(lambda: update_id not in self.api.pending_update_ids(), 20)
        await self.api.until(lambda: len(self.api.sent(self.user.id)) > before, 20)
        return self.api.texts(self.user.id)[before:]

    async def send(self, update: dict[str, Any]) -> str:
        before = len(self.api.sent(self.user.id))
        (update_id,) = self.api.queue(update)
        return "\n".join(await self._wait_reply(before, update_id))

    async def say(self, text: str) -> str:
        return await self.send(self.api.text_update(self.user, text))

    async def press(self, title: str) -> str:
        return await self.send(self.api.callback_update(self.user, text=title))

    def buttons(self) -> list[str]:
        message = self.api.last_bot_message(self.user.id, with_keyboard=True)
        return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_repair_with_buttons_photo_and_contact(kefu: Kefu, fake_api: FakeBotAPI) -> None:
    chat = Chat(fake_api, fake_api.user(3001, "陳大文", language_code="zh-hk"))
    assert "哪個單位" in await chat.say("廚房水龍頭一直漏水")
    reply = await chat.send(fake_api.photo_update(chat.user, b"JPEG-leak" * 50))
    assert reply  # acknowledged, the form goes on
    assert "時間" in await chat.say("3棟2單元1502室")
    assert "明天上午" in chat.buttons()
    assert "電話" in await chat.press("明天上午")
    pressed = fake_api.calls_to("answerCallbackQuery")
    assert pressed and all(c.ok for c in pressed)
    summary = await chat.send(fake_api.contact_update(chat.user, "+85291234567"))
    assert "請確認報修資料" in summary and "+85291234567" in summary
    done = await chat.press("確認提交")
    assert "R-20261127-" in done
    (ticket,) = [t for t in await kefu.tickets() if t.unit == "3棟2單元1502室"]
    assert ticket.kind == "repair" and ticket.contact_phone == "+85291234567"
    assert ticket.language == "zh-Hant"
    (photo,) = ticket.details["attachments"]
    assert Path(photo["path"]).read_bytes() == b"JPEG-leak" * 50
    assert kefu.app is not None
    async with kefu.app.db.session() as session:
        contact = (
            await session.execute(select(Contact).where(Contact.phone == "+85291234567"))
        ).scalar_one()
        assert contact.phone_verified is True
        unsent = await session.execute(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "out", Message.sent_at.is_(None))
        )
        assert unsent.scalar_one() == 0
    # Every keyboard that was pressed is gone.
    for call in pressed:
        assert call.ok


@pytest.mark.parametrize(
    ("code", "text", "expected", "sticker"),
    [
        ("zh-hk", "廚房水龍頭一直漏水", "哪個單位", "只看得懂"),
        ("zh-cn", "厨房水龙头一直漏水", "房号", "只能看懂"),
        ("en", "My kitchen tap is leaking", "Which flat", "I can only read"),
    ],
)
async def test_three_languages(
    kefu: Kefu, fake_api: FakeBotAPI, code: str, text: str, expected: str, sticker: str
) -> None:
    chat = Chat(fake_api, fake_api.user(3100 + len(code) * 10 + len(text), language_code=code))
    assert expected in await chat.say(text)
    # The channel's own answers follow the conversation's language too.
    assert sticker in await chat.send(fake_api.sticker_update(chat.user))


async def test_duplicate_webhook_delivery_one_ticket_one_reply(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any
) -> None:
    settings = tg_settings(
        fake_api, tmp_path, db_url, mode="webhook",
        webhook={"listen": "127.0.0.1", "port": 0, "path": "/hook"},
    )  # fmt: skip
    k = Kefu(fake_api, settings, clock, interpreter)
    bot = await k.start()
    try:
        assert bot.webhook is not None
        url = bot.webhook.url
        user = fake_api.user(3201, language_code="en")

        async def post(update: dict[str, Any]) -> int:
            return (await fake_api.post_webhook(update, url=url, secret=SECRET)).status_code

        for text in ("The corridor light is broken", "Block 3 flat 1502"):
            assert await post(fake_api.text_update(user, text)) == 200
        await post(fake_api.callback_update(user, index=0))
        phone = fake_api.contact_update(user, "+85291234567")
        assert await post(phone) == 200
        confirm = fake_api.callback_update(user, index=0)
        before = len(fake_api.sent(user.id))
        assert await post(confirm) == 200
        after = len(fake_api.sent(user.id))
        # Telegram retries the same update (say our 200 was lost): nothing happens twice.
        assert await post(confirm) == 200
        assert await post(phone) == 200
        assert len(fake_api.sent(user.id)) == after > before
        mine = [t for t in await k.tickets() if t.contact_phone == "+85291234567"
                and t.language == "en"]  # fmt: skip
        assert len(mine) == 1, fake_api.texts(user.id)
    finally:
        await k.stop()


async def test_restart_mid_form_continues_nothing_sent_twice(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str, clock: FrozenClock, interpreter: Any
) -> None:
    settings = tg_settings(fake_api, tmp_path, db_url)
    k = Kefu(fake_api, settings, clock, interpreter)
    await k.start()
    chat = Chat(fake_api, fake_api.user(3301, language_code="zh-hk"))
    assert "哪個單位" in await chat.say("浴室天花板滲水")
    await k.stop()
    # While Kefu is down the user answers; the update waits at Telegram.
    (pending,) = fake_api.queue(fake_api.text_update(chat.user, "5座12樓C室"))
    sent_before = len(fake_api.sent(chat.user.id))
    await k.start()
    try:
        await fake_api.until(lambda: pending not in fake_api.pending_update_ids(), 20)
        await fake_api.until(lambda: len(fake_api.sent(chat.user.id)) > sent_before, 20)
        assert "時間" in "\n".join(fake_api.texts(chat.user.id)[sent_before:])
        texts = fake_api.texts(chat.user.id)
        assert len(texts) == len(set(texts)), texts  # nothing sent twice
    finally:
        await k.stop()


@pytest.mark.postgres
async def test_database_outage_update_waits_and_bot_recovers(
    fake_api: FakeBotAPI, tmp_path: Path, pg_url: str, clock: FrozenClock, interpreter: Any
) -> None:
    url = make_url(pg_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        k = Kefu(fake_api, tg_settings(fake_api, tmp_path, proxied), clock, interpreter)
        await k.start()
        try:
            chat = Chat(fake_api, fake_api.user(3401, language_code="zh-hk"))
            assert "哪個單位" in await chat.say("客廳冷氣機漏水")
            before = len(fake_api.sent(chat.user.id))
            proxy.down()
            (waiting,) = fake_api.queue(fake_api.text_update(chat.user, "2座8樓B室"))
            # Polled again and again, never acknowledged, nothing sent while the store is down.
            polls = len(fake_api.calls_to("getUpdates"))
            await fake_api.until(lambda: len(fake_api.calls_to("getUpdates")) >= polls + 3, 20)
            assert waiting in fake_api.pending_update_ids()
            assert len(fake_api.sent(chat.user.id)) == before
            proxy.up()
            await fake_api.until(lambda: waiting not in fake_api.pending_update_ids(), 30)
            await fake_api.until(lambda: len(fake_api.sent(chat.user.id)) > before, 10)
            replies = fake_api.texts(chat.user.id)[before:]
            assert len(replies) == 1 and "時間" in replies[0], replies
        finally:
            await k.stop()


async def _until_outbox_empty(db_url: str, timeout: float = 20) -> None:
    engine = create_engine(sync_url(db_url))
    query = text("SELECT count(*) FROM messages WHERE direction = 'out' AND sent_at IS NULL")
    try:
        for _ in range(int(timeout / 0.05)):
            with engine.connect() as conn:
                if conn.execute(query).scalar_one() == 0:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("outbox not empty")
    finally:
        engine.dispose()


def _spawn_kefu_run(api: FakeBotAPI, db_url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KEFU_CONFIG": str(ROOT / "config.yml"),
        "KEFU_DATABASE_URL": db_url,
        "KEFU_VAR_DIR": str(tmp_path / "var"),
        "KEFU_TELEGRAM_BASE_URL": api.base_url,
        "KEFU_TELEGRAM__POLL_TIMEOUT": "1",
        "KEFU_TELEGRAM__RATE_LIMIT__PER_CHAT_PER_SECOND": "0",
        "TELEGRAM_BOT_TOKEN": api.token,
    }
    log = (tmp_path / "kefu-run.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log, stderr=log
    )


# On SQLite only, the embedded default for one polling process: it is killed while idle (its
# outbox empty), so what the store does is what the in-process tests above prove on both
# (a restart mid form, a delivery seen twice); two more `kefu run` processes on PostgreSQL
# cost ~9 s of CPU and proved no more.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_kefu_run_killed_mid_form_continues_nothing_sent_twice(
    fake_api: FakeBotAPI, tmp_path: Path, db_url: str
) -> None:
    chat = Chat(fake_api, fake_api.user(3501, language_code="zh-hk"))
    process = _spawn_kefu_run(fake_api, db_url, tmp_path)
    try:
        await fake_api.until(lambda: bool(fake_api.calls_to("getUpdates")), 90)
        assert "哪個單位" in await chat.say("洗手間去水位塞咗")
        answer = fake_api.text_update(chat.user, "1座3樓A室")
        fake_api.queue(answer)
        await fake_api.until(lambda: len(fake_api.sent(chat.user.id)) >= 2, 30)
        # Killed after the turn (its reply recorded as sent). Killed in the milliseconds between
        # Telegram accepting a reply and mark_sent, that reply would be sent again on restart:
        # delivery is at least once.
        await _until_outbox_empty(db_url)
        process.kill()
        process.wait(10)
        sent_before = len(fake_api.sent(chat.user.id))
        process = _spawn_kefu_run(fake_api, db_url, tmp_path)
        # Telegram delivers the last update again (its acknowledgement may have been lost).
        (again,) = fake_api.queue(dict(answer))
        await fake_api.until(lambda: again not in fake_api.pending_update_ids(), 90)
        assert len(fake_api.sent(chat.user.id)) == sent_before  # redelivered, not re-answered
        assert "電話" in await chat.press("明天上午")
        summary = await chat.send(fake_api.contact_update(chat.user, "+85298765432"))
        assert "3樓A室" in summary
        assert "R-" in await chat.press("確認提交")
        ids = [c.result["message_id"] for c in fake_api.sent(chat.user.id)]
        texts = fake_api.texts(chat.user.id)
        assert len(texts) == len(set(texts)) == len(set(ids)), texts
    finally:
        process.kill()
        process.wait(10)


async def test_chosen_language_gets_its_own_command_menu(kefu: Kefu, fake_api: FakeBotAPI) -> None:
    chat = Chat(fake_api, fake_api.user(3601, language_code="en"))
    await chat.say("/lang")
    await chat.press("简体中文")
    await fake_api.until(lambda: bool(fake_api.calls_to("setMyCommands", scope={
        "type": "chat", "chat_id": chat.user.id})))  # fmt: skip
    (menu,) = fake_api.calls_to("setMyCommands", scope={"type": "chat", "chat_id": chat.user.id})
    assert menu.params["commands"][0] == {"command": "start", "description": "开始／选择语言"}
    await chat.say("/lang")
    await chat.press("English")  # the English app's global menu fits again
    await fake_api.until(lambda: bool(fake_api.calls_to("deleteMyCommands")))


@pytest.mark.postgres
async def test_two_webhook_workers_same_update_at_once(
    fake_api: FakeBotAPI, tmp_path: Path, pg_url: str, clock: FrozenClock, interpreter: Any
) -> None:
    """Telegram retries an update while the first delivery is still running, and the proxy
    sends the retry to the other worker: both answer 200, the user gets one reply."""
    workers = []
    for n in range(2):
        settings = tg_settings(
            fake_api, tmp_path / f"w{n}", pg_url, mode="webhook",
            webhook={"listen": "127.0.0.1", "port": 0, "path": "/hook"},
        )  # fmt: skip
        worker = Kefu(fake_api, settings, clock, interpreter)
        await worker.start()
        workers.append(worker)
    try:
        urls = [w.bot.webhook.url for w in workers if w.bot and w.bot.webhook]
        user = fake_api.user(3701, language_code="en")
        for text in ("hello", "The lift on floor 3 is making a loud noise"):
            update = fake_api.text_update(user, text)
            before = len(fake_api.sent(user.id))
            answers = await asyncio.gather(
                *(fake_api.post_webhook(update, url=url, secret=SECRET) for url in urls)
            )
            assert [a.status_code for a in answers] == [200, 200]
            assert len(fake_api.sent(user.id)) == before + 1, fake_api.texts(user.id)
    finally:
        for worker in workers:
            await worker.stop()


async def test_429_then_success_and_403_blocked_user(kefu: Kefu, fake_api: FakeBotAPI) -> None:
    chat = Chat(fake_api, fake_api.user(3801, language_code="en"))
    fake_api.fail("sendMessage", 429, retry_after=1, chat_id=chat.user.id)
    assert "Hello" in await chat.say("hello")
    assert [c.status for c in fake_api.calls_to("sendMessage", chat_id=chat.user.id)] == [429, 200]

    blocked = fake_api.user(3802, language_code="en")
    fake_api.block(blocked.id)
    (update_id,) = fake_api.queue(fake_api.text_update(blocked, "hello"))
    await fake_api.until(lambda: update_id not in fake_api.pending_update_ids(), 20)
    assert kefu.app is not None
    async with kefu.app.db.session() as session:
        contacts = (await session.execute(select(Contact).where(Contact.unreachable))).scalars()
        assert len(list(contacts)) == 1
        unsent = await session.execute(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "out", Message.sent_at.is_(None))
        )
        assert unsent.scalar_one() == 0
    assert [c.status for c in fake_api.calls_to("sendMessage", chat_id=blocked.id)] == [403]


async def test_a_due_survey_reaches_the_chat_once(
    kefu: Kefu, fake_api: FakeBotAPI, clock: FrozenClock
) -> None:
    """The follow-up worker and the outbox sweep run from PTB's JobQueue, as in `kefu run`."""
    from datetime import timedelta

    from bot.store.models import Conversation
    from bot.tickets import open_ticket
    from bot.tickets.lifecycle import resolve_ticket

    chat = Chat(fake_api, fake_api.user(3101, "黃小姐", language_code="zh-hk"))
    assert await chat.say("你好")
    assert kefu.app is not None and kefu.bot is not None
    app = kefu.app
    async with app.db.write() as session:
        conversation = (
            await session.execute(select(Conversation).where(Conversation.chat_id == "3101"))
        ).scalar_one()
        ticket = await open_ticket(
            session,
            kind="repair",
            now=clock.now(),
            actor="test",
            description="浴室漏水",
            category="water_leak",
            contact_id=conversation.contact_id,
            conversation_id=conversation.id,
            language="zh-Hant",
        )
        await resolve_ticket(session, ticket, settings=app.settings, now=clock.now(), actor="staff")
    before = len(fake_api.sent(3101))
    worker = app.followup_worker()
    wakes = Completions(worker, "wake")
    kefu.bot.run_background(worker, timedelta(milliseconds=100))
    await wakes.until(3, 20)  # the worker has looked three times (with the outbox sweep)
    assert len(fake_api.sent(3101)) == before  # not due yet
    clock.advance(app.settings.sla.survey_delay)
    await fake_api.until(lambda: len(fake_api.sent(3101)) > before, 20)
    await wakes.until(wakes.count + 3, 20)  # several more sweeps and wake-ups: still one survey
    new = fake_api.texts(3101)[before:]
    assert len(new) == 1 and "評分" in new[0] and ticket.number in new[0]
    assert "5 非常滿意" in chat.buttons()


async def test_an_album_in_a_repair_is_one_answer_and_every_photo_on_the_ticket(
    kefu: Kefu, fake_api: FakeBotAPI
) -> None:
    chat = Chat(fake_api, fake_api.user(3010, "李小姐", language_code="en"))
    assert "unit" in (await chat.say("The bathroom ceiling is leaking water")).lower()
    before = len(fake_api.sent(chat.user.id))
    ids = fake_api.queue(
        *(fake_api.photo_update(chat.user, b"LEAK%d" % n, media_group_id="m1") for n in range(3))
    )
    await fake_api.until(lambda: not set(ids) & set(fake_api.pending_update_ids()), 20)
    await fake_api.until(lambda: len(fake_api.sent(chat.user.id)) > before, 20)
    # Acknowledged means processed with every reply sent: a second answer would be here now.
    assert len(fake_api.sent(chat.user.id)) == before + 1  # one answer for three photos
    await chat.say("Block 3, 15/F, flat B")
    await chat.press(chat.buttons()[0])
    await chat.send(fake_api.contact_update(chat.user, "+85261234987"))
    assert "R-20261127-" in await chat.press(chat.buttons()[0])
    # The module's tests share a PostgreSQL database: this chat's ticket is the one with its phone.
    (ticket,) = [t for t in await kefu.tickets() if t.contact_phone == "+85261234987"]
    photos = ticket.details["attachments"]
    assert [Path(p["path"]).read_bytes() for p in photos] == [b"LEAK0", b"LEAK1", b"LEAK2"]
