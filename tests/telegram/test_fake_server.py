"""The fake Bot API server, exercised with python-telegram-bot's own ``Bot``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter

from tests.fakes.bot_api import SECRET_HEADER, FakeBotAPI


@pytest.fixture
async def bot(fake_api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(
        fake_api.token, base_url=fake_api.base_url, base_file_url=fake_api.base_file_url
    ) as tg_bot:
        yield tg_bot


async def test_get_me_and_send_message(bot: Bot, fake_api: FakeBotAPI) -> None:
    assert bot.username == "kefu_test_bot"
    message = await bot.send_message(42, "你好 hello", disable_notification=True)
    assert message.text == "你好 hello"
    assert message.chat.id == 42
    call = fake_api.calls_to("sendMessage")[0]
    assert call.params["chat_id"] == 42
    assert call.params["text"] == "你好 hello"
    assert call.params["disable_notification"] is True
    assert fake_api.texts(42) == ["你好 hello"]


async def test_inline_keyboard_callback_and_edit(bot: Bot, fake_api: FakeBotAPI) -> None:
    user = fake_api.user(7, "Amy", language_code="zh-hant")
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Yes", callback_data="/affirm"),
          InlineKeyboardButton("No", callback_data="/deny")]]
    )  # fmt: skip
    sent = await bot.send_message(user.id, "Confirm?", reply_markup=markup)
    update = Update.de_json(fake_api.callback_update(user, text="No"), bot)
    assert update is not None and update.callback_query is not None
    query = update.callback_query
    assert query.data == "/deny"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id) is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    await bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=None)
    assert "reply_markup" not in fake_api.messages[(user.id, sent.message_id)]
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=None)
    edited = await bot.edit_message_text("Confirmed", chat_id=user.id, message_id=sent.message_id)
    assert isinstance(edited, object) and fake_api.last_bot_message(user.id)["text"] == "Confirmed"


async def test_get_updates_long_poll_and_offset_ack(bot: Bot, fake_api: FakeBotAPI) -> None:
    user = fake_api.user(8)
    first = fake_api.text_update(user, "/start")
    fake_api.queue(first)
    updates = await bot.get_updates(timeout=5)
    assert [u.update_id for u in updates] == [first["update_id"]]
    message = updates[0].message
    assert message is not None and message.text == "/start"
    assert message.entities[0].type == "bot_command"
    # Not acknowledged yet: delivered again.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [first["update_id"]]

    async def inject_later() -> None:
        await asyncio.sleep(0.2)
        fake_api.queue(fake_api.text_update(user, "hi"))

    task = asyncio.create_task(inject_later())
    loop = asyncio.get_running_loop()
    started = loop.time()
    polled = await bot.get_updates(offset=first["update_id"] + 1, timeout=5)
    await task
    assert loop.time() - started < 3
    assert [u.message.text for u in polled if u.message] == ["hi"]
    assert first["update_id"] not in fake_api.pending_update_ids()
    # Empty long poll returns after the timeout.
    assert await bot.get_updates(offset=polled[0].update_id + 1, timeout=0) == ()


async def test_photo_document_download(bot: Bot, fake_api: FakeBotAPI) -> None:
    user = fake_api.user(9)
    update = Update.de_json(fake_api.photo_update(user, b"JPEGDATA" * 100, caption="leak"), bot)
    assert update is not None and update.message is not None
    biggest = update.message.photo[-1]
    assert biggest.file_size == 800
    file = await bot.get_file(biggest.file_id)
    assert bytes(await file.download_as_bytearray()) == b"JPEGDATA" * 100
    doc_update = fake_api.document_update(user, b"%PDF", size=30 * 1024 * 1024)
    doc = Update.de_json(doc_update, bot)
    assert doc is not None and doc.message is not None and doc.message.document is not None
    assert doc.message.document.file_size == 30 * 1024 * 1024
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(doc.message.document.file_id)


async def test_send_photo_upload(bot: Bot, fake_api: FakeBotAPI) -> None:
    message = await bot.send_photo(5, photo=b"\x89PNG fake", caption="map")
    assert message.caption == "map"
    call = fake_api.calls_to("sendPhoto")[0]
    assert call.files and b"\x89PNG fake" in next(iter(call.files.values()))


async def test_faults(bot: Bot, fake_api: FakeBotAPI) -> None:
    fake_api.fail("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(1, "x")
    assert info.value._retry_after.total_seconds() == 3
    fake_api.fail("sendMessage", 403)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(1, "x")
    fake_api.fail("sendMessage", "drop")
    with pytest.raises(NetworkError):
        await bot.send_message(1, "x")
    fake_api.block(2)
    with pytest.raises(Forbidden):
        await bot.send_message(2, "x")
    assert (await bot.send_message(1, "x")).text == "x"
    statuses = [c.status for c in fake_api.calls_to("sendMessage")]
    assert statuses == [429, 403, 0, 403, 200]


async def test_commands_per_language(bot: Bot, fake_api: FakeBotAPI) -> None:
    await bot.set_my_commands([BotCommand("start", "開始")], language_code="zh")
    await bot.set_my_commands([BotCommand("start", "Start")])
    assert [c.description for c in await bot.get_my_commands(language_code="zh")] == ["開始"]
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("Bad Command", "x")])


async def test_forum_topics_copy_and_forward(bot: Bot, fake_api: FakeBotAPI) -> None:
    group = fake_api.group(-1001234567890, "Agents", forum=True)
    user = fake_api.user(11)
    topic = await bot.create_forum_topic(group["id"], "R-20261127-0001 repair 12A")
    thread = topic.message_thread_id
    posted = await bot.send_message(group["id"], "card", message_thread_id=thread)
    assert posted.message_thread_id == thread
    await bot.edit_forum_topic(group["id"], thread, name="✅ R-20261127-0001")
    await bot.close_forum_topic(group["id"], thread)
    await bot.reopen_forum_topic(group["id"], thread)
    photo = fake_api.photo_update(user, b"img")
    copied = await bot.copy_message(group["id"], user.id, photo["message"]["message_id"],
                                    message_thread_id=thread)  # fmt: skip
    assert copied.message_id > posted.message_id
    forwarded = await bot.forward_message(group["id"], user.id, photo["message"]["message_id"],
                                          message_thread_id=thread)  # fmt: skip
    assert forwarded.forward_origin is not None
    await bot.delete_forum_topic(group["id"], thread)
    with pytest.raises(BadRequest, match=r"(?i)thread not found"):
        await bot.send_message(group["id"], "again", message_thread_id=thread)
    fake_api.group(-5, "Plain group")
    with pytest.raises(BadRequest, match=r"(?i)not a forum"):
        await bot.create_forum_topic(-5, "x")


class _Receiver(tornado.web.RequestHandler):
    def initialize(self, got: list[tuple[str | None, dict[str, Any]]]) -> None:
        self.got = got

    def post(self) -> None:
        self.got.append((self.request.headers.get(SECRET_HEADER), json.loads(self.request.body)))
        self.set_status(200 if self.request.headers.get(SECRET_HEADER) == "s3cret" else 403)


async def test_webhook_registration_and_delivery(bot: Bot, fake_api: FakeBotAPI) -> None:
    got: list[tuple[str | None, dict[str, Any]]] = []
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(
        tornado.web.Application([(r"/hook", _Receiver, {"got": got})])
    )
    server.add_sockets(sockets)
    url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook"
    try:
        assert await bot.set_webhook(url, secret_token="s3cret")
        info = await bot.get_webhook_info()
        assert info.url == url
        with pytest.raises(Conflict):
            await bot.get_updates()
        user = fake_api.user(12)
        ok = await fake_api.post_webhook(fake_api.text_update(user, "hello"))
        bad = await fake_api.post_webhook(fake_api.text_update(user, "x"), secret=None)
        assert (ok.status_code, bad.status_code) == (200, 403)
        assert got[0][0] == "s3cret" and got[0][1]["message"]["text"] == "hello"
        assert got[1][0] is None
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        server.stop()


async def test_other_update_kinds_parse(bot: Bot, fake_api: FakeBotAPI) -> None:
    user = fake_api.user(13)
    group = fake_api.group(-100, "Residents")
    fake_api.text_update(user, "first")
    builders = [
        fake_api.sticker_update(user),
        fake_api.voice_update(user),
        fake_api.video_update(user),
        fake_api.location_update(user),
        fake_api.contact_update(user, "+85291234567"),
        fake_api.contact_update(user, "+85261234567", contact_user_id=None),
        fake_api.edited_update(user, "first, edited"),
        fake_api.group_update(user, group["id"], "hello all"),
        fake_api.channel_post_update(-1009999, "news"),
        fake_api.bot_added_update(user, group["id"]),
    ]
    updates = [Update.de_json(u, bot) for u in builders]
    assert all(u is not None for u in updates)
    u = [x for x in updates if x is not None]
    assert u[0].message and u[0].message.sticker
    assert u[1].message and u[1].message.voice
    assert u[2].message and u[2].message.video
    assert u[3].message and u[3].message.location
    assert u[4].message and u[4].message.contact and u[4].message.contact.user_id == user.id
    assert u[5].message and u[5].message.contact and u[5].message.contact.user_id is None
    assert u[6].edited_message and u[6].edited_message.text == "first, edited"
    assert u[7].message and u[7].message.chat.type == "group"
    assert u[8].channel_post and u[8].channel_post.chat.type == "channel"
    assert u[9].my_chat_member is not None


async def test_until_wakes_on_calls(bot: Bot, fake_api: FakeBotAPI) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(3, "one")

    task = asyncio.create_task(later())
    calls = await fake_api.until_sent(3, 1, timeout=5)
    await task
    assert calls[0].params["text"] == "one"
    with pytest.raises(AssertionError, match="timed out"):
        await fake_api.until_sent(3, 2, timeout=0.1)


async def test_until_wakes_on_acknowledgement_before_the_long_poll_ends(
    bot: Bot, fake_api: FakeBotAPI
) -> None:
    """An acknowledgement (``getUpdates`` with a higher offset) wakes waiters at once: the
    acknowledging call is recorded only when its long poll ends, seconds later."""
    fake_api.recheck_interval = 60  # only the server's own wake-ups count here
    user = fake_api.user(10)
    (update_id,) = fake_api.queue(fake_api.text_update(user, "hi"))
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update_id]
    # The poll would end (and be recorded) only after 30 s; the waiter gives up after 10.
    poll = asyncio.create_task(bot.get_updates(offset=update_id + 1, timeout=30))
    await fake_api.until(lambda: update_id not in fake_api.pending_update_ids(), timeout=10)
    assert not poll.done()  # still long polling: no recorded call woke the waiter
    (later,) = fake_api.queue(fake_api.text_update(user, "later"))  # ends the long poll
    assert [u.update_id for u in await poll] == [later]


async def test_until_rechecks_state_outside_the_server(fake_api: FakeBotAPI) -> None:
    """A predicate on something the server does not see is re-checked on its own."""
    seen: list[str] = []
    asyncio.get_running_loop().call_later(0.05, seen.append, "done")
    await fake_api.until(lambda: bool(seen), timeout=2)
    assert seen == ["done"]
