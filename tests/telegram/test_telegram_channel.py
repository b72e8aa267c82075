"""The Telegram channel on the real PTB Application against the fake Bot API server.

These tests use a stand-in engine with the engine's delivery contract, so they pin down the
channel's own behaviour (routing, keyboards, media, retries, acknowledgement); the end-to-end
tests with the real engine are in test_telegram_e2e.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels.telegram import TelegramBot
from bot.channels.telegram.convert import payload_key
from bot.messages import Button, OutboundMessage
from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.support import StubEngine, tg_settings, with_buttons

SECRET = "s3cret-token_ok"


@pytest.fixture
def engine() -> StubEngine:
    return StubEngine()


@pytest.fixture
async def polling_bot(
    fake_api: FakeBotAPI, engine: StubEngine, tmp_path: Path
) -> AsyncIterator[TelegramBot]:
    settings = tg_settings(fake_api, tmp_path)
    async with TelegramBot(settings, engine, token=fake_api.token) as bot:
        yield bot


async def test_text_reply_and_command_menu(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    menus = {c.params.get("language_code", ""): c.params["commands"]
             for c in fake_api.calls_to("setMyCommands")}  # fmt: skip
    assert set(menus) == {"", "en", "zh"}
    assert [c["command"] for c in menus["en"]] == [
        "start", "help", "mytickets", "cancel", "agent", "lang"
    ]  # fmt: skip
    assert menus["en"][0]["description"] == "Start and choose a language"
    assert menus[""][0]["description"] == "開始／選擇語言"  # default language zh-Hant
    user = fake_api.user(1001, "Amy", language_code="en")
    fake_api.queue(fake_api.text_update(user, "/start"))
    sent = await fake_api.until_sent(user.id, 1)
    assert sent[0].params["text"] == "echo: /start"
    inbound = engine.inbound[0]
    assert (inbound.channel, inbound.chat_id, inbound.text) == ("telegram", "1001", "/start")
    assert inbound.language_hint == "en" and inbound.delivery_id
    await fake_api.until(lambda: bool(engine.sent))
    assert list(engine.sent.values()) == [str(sent[0].result["message_id"])]
    await fake_api.until(lambda: not fake_api.pending_update_ids())


async def test_buttons_callback_answered_and_keyboard_closed(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    long_payload = '/inform{"visit_time": "' + "x" * 80 + '"}'
    engine.reply = lambda m: (
        with_buttons(("是", "/affirm"), ("Tomorrow morning", long_payload), text="Confirm?")
        if not m.payload
        else [OutboundMessage(text=f"pressed {m.text} -> {m.payload}")]
    )
    user = fake_api.user(1002, language_code="zh-hant")
    fake_api.queue(fake_api.text_update(user, "hi"))
    first = (await fake_api.until_sent(user.id, 1))[0]
    keyboard = first.params["reply_markup"]["inline_keyboard"]
    datas = [b["callback_data"] for row in keyboard for b in row]
    assert datas == ["/affirm", payload_key(long_payload)]
    assert all(len(d.encode()) <= 64 for d in datas)

    press = fake_api.callback_update(user, text="Tomorrow morning")
    fake_api.queue(press)
    sent = await fake_api.until_sent(user.id, 2)
    assert sent[1].params["text"] == f"pressed Tomorrow morning -> {long_payload}"
    assert engine.inbound[-1].payload == long_payload
    assert engine.inbound[-1].text == "Tomorrow morning"
    answers = fake_api.calls_to("answerCallbackQuery")
    assert [a.params["callback_query_id"] for a in answers] == [press["callback_query"]["id"]]
    assert answers[0].ok
    edited = fake_api.messages[(user.id, first.result["message_id"])]
    assert "reply_markup" not in edited and edited["text"].endswith("✔ Tomorrow morning")

    # Pressing the same (stale) keyboard again: answered, nothing reaches the engine.
    again = fake_api.callback_update(user, data="/affirm", message_id=first.result["message_id"])
    fake_api.queue(again)
    await fake_api.until(lambda: len(fake_api.calls_to("answerCallbackQuery")) == 2)
    second_answer = fake_api.calls_to("answerCallbackQuery")[1]
    assert second_answer.params["text"] == "這個選項已經失效。"
    await fake_api.until(lambda: not fake_api.pending_update_ids())
    assert len(engine.inbound) == 2 and len(fake_api.sent(user.id)) == 2


async def test_photo_and_document_are_downloaded(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine, tmp_path: Path
) -> None:
    user = fake_api.user(1003, language_code="en")
    fake_api.queue(fake_api.photo_update(user, b"JPEG" * 1000, caption="ceiling leak"))
    await fake_api.until_sent(user.id, 1)
    inbound = engine.inbound[0]
    assert inbound.text == "ceiling leak"
    (photo,) = inbound.attachments
    assert photo.kind == "photo" and photo.size == 4000 and photo.path
    assert Path(photo.path).read_bytes() == b"JPEG" * 1000
    assert Path(photo.path).is_relative_to(tmp_path / "media" / "1003")

    fake_api.queue(fake_api.document_update(user, b"%PDF-1.4 receipt", file_name="收據.pdf"))
    await fake_api.until_sent(user.id, 2)
    (doc,) = engine.inbound[1].attachments
    assert doc.kind == "document" and doc.name == "收據.pdf" and doc.mime_type == "application/pdf"
    assert (
        doc.path and doc.path.endswith(".pdf") and Path(doc.path).read_bytes().startswith(b"%PDF")
    )


async def test_an_album_is_one_turn_with_every_file(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1014, language_code="en")
    ids = fake_api.queue(
        fake_api.photo_update(user, b"ONE" * 10, caption="kitchen leak", media_group_id="a1"),
        fake_api.photo_update(user, b"TWO" * 10, media_group_id="a1"),
        fake_api.document_update(user, b"%PDF-1.4 quote", media_group_id="a1"),
    )
    await fake_api.until_sent(user.id, 1)
    await fake_api.until(lambda: not fake_api.pending_update_ids())
    (inbound,) = engine.inbound
    assert inbound.text == "kitchen leak" and inbound.delivery_id == str(ids[0])
    assert [a.kind for a in inbound.attachments] == ["photo", "photo", "document"]
    assert [Path(a.path or "").read_bytes()[:3] for a in inbound.attachments] == [
        b"ONE", b"TWO", b"%PD"
    ]  # fmt: skip
    assert len({a.message_id for a in inbound.attachments}) == 3
    # Every part acknowledged means every part processed with its replies sent.
    assert len(fake_api.sent(user.id)) == 1  # one answer for the album


async def test_an_album_that_fails_comes_back_whole(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1015, language_code="en")
    engine.down = True
    ids = fake_api.queue(
        *(fake_api.photo_update(user, b"P%d" % n, media_group_id="a2") for n in range(3))
    )
    await fake_api.until(lambda: len(fake_api.calls_to("getUpdates")) >= 4, timeout=10)
    assert fake_api.pending_update_ids() == ids and fake_api.sent(user.id) == []
    engine.down = False
    await fake_api.until_sent(user.id, 1, timeout=15)
    await fake_api.until(lambda: not fake_api.pending_update_ids())
    assert len(engine.inbound) == 1 and len(engine.inbound[0].attachments) == 3


async def test_an_album_whose_first_part_is_cancelled_releases_the_others(
    polling_bot: TelegramBot, fake_api: FakeBotAPI
) -> None:
    from telegram import Update

    user = fake_api.user(1016)
    first, second = (
        Update.de_json(fake_api.photo_update(user, b"X", media_group_id="a3"), polling_bot.bot)
        for _ in range(2)
    )
    leader = asyncio.create_task(polling_bot.channel.process_update(first))
    await asyncio.sleep(0)  # one loop turn: the leader starts gathering the album
    follower = asyncio.create_task(polling_bot.channel.process_update(second))
    await asyncio.sleep(0)  # one loop turn: the follower joins it and waits
    assert not leader.done() and not follower.done()
    leader.cancel()  # e.g. shutdown while the album is being gathered
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(follower, 2)  # not left waiting forever


async def test_oversized_file_gets_polite_answer(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1004, language_code="en")
    fake_api.queue(fake_api.document_update(user, b"x", size=25 * 1024 * 1024))
    sent = await fake_api.until_sent(user.id, 1)
    assert "too large" in sent[0].params["text"] and "20 MB" in sent[0].params["text"]
    assert engine.inbound == []
    assert not fake_api.calls_to("getFile")


async def test_contact_sharing_is_verified(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    engine.reply = lambda m: (
        [OutboundMessage(text="Your phone?", request_contact=True)]
        if not m.contact_phone
        else [OutboundMessage(text=f"phone {m.contact_phone}")]
    )
    user = fake_api.user(1005, language_code="en")
    fake_api.queue(fake_api.text_update(user, "repair"))
    first = (await fake_api.until_sent(user.id, 1))[0]
    keyboard = first.params["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    assert keyboard[0][0]["text"] == "📱 Share my phone number"

    fake_api.queue(fake_api.contact_update(user, "+85261234567", contact_user_id=999))
    second = (await fake_api.until_sent(user.id, 2))[1]
    assert "your own number" in second.params["text"]
    assert len(engine.inbound) == 1

    fake_api.queue(fake_api.contact_update(user, "+85291234567"))
    third = (await fake_api.until_sent(user.id, 3))[2]
    assert engine.inbound[-1].contact_phone == "+85291234567"
    assert third.params["text"] == "phone +85291234567"
    assert third.params["reply_markup"] == {"remove_keyboard": True}


async def test_everything_else_is_answered_or_ignored(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1006, language_code="zh-hans")
    group = fake_api.group(-100500, "Residents")
    fake_api.queue(fake_api.text_update(user, "hello"))
    await fake_api.until_sent(user.id, 1)
    updates = [
        fake_api.sticker_update(user),
        fake_api.voice_update(user),
        fake_api.video_update(user),
        fake_api.location_update(user),
        fake_api.animation_update(user),
        fake_api.edited_update(user, "hello, edited"),
        fake_api.group_update(user, group["id"], "hi bot"),
        fake_api.channel_post_update(-100777, "news"),
        fake_api.bot_added_update(user, group["id"]),
        fake_api.callback_update(user, data="/forged", message_id=1),
    ]
    fake_api.queue(*updates)
    await fake_api.until(lambda: not fake_api.pending_update_ids(), timeout=10)
    texts = fake_api.texts(user.id)[1:]
    assert texts.count("抱歉，我暂时只能看懂文字、照片和文件。请用文字告诉我你需要什么帮助。") == 5
    assert any("修改" in t for t in texts)
    assert len(texts) == 6
    assert fake_api.sent(group["id"]) == [] and fake_api.sent(-100777) == []
    forged = fake_api.calls_to("answerCallbackQuery")
    assert len(forged) == 1 and forged[0].ok
    assert [m.text for m in engine.inbound] == ["hello"]
    # Still alive.
    assert not fake_api.calls_to("getFile")
    fake_api.queue(fake_api.text_update(user, "still there?"))
    await fake_api.until_sent(user.id, 8)


async def test_duplicate_delivery_is_processed_once(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1007)
    update = fake_api.text_update(user, "once")
    fake_api.queue(update, dict(update))
    await fake_api.until_sent(user.id, 1)
    await fake_api.until(lambda: not fake_api.pending_update_ids())
    # And again later (e.g. a webhook retry after a lost answer).
    fake_api.queue(dict(update))
    await fake_api.until(lambda: not fake_api.pending_update_ids())
    # Acknowledged means processed: a second turn or reply would be recorded by now.
    assert len(fake_api.sent(user.id)) == 1 and len(engine.inbound) == 1


async def test_429_is_retried_after_retry_after(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1008)
    fake_api.fail("sendMessage", 429, retry_after=1, chat_id=user.id)
    fake_api.queue(fake_api.text_update(user, "hi"))
    sent = await fake_api.until_sent(user.id, 1, timeout=10)
    attempts = fake_api.calls_to("sendMessage", chat_id=user.id)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert len(sent) == 1


async def test_bad_gateway_is_retried(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1009)
    fake_api.fail("sendMessage", 502, times=2, chat_id=user.id)
    fake_api.queue(fake_api.text_update(user, "hi"))
    await fake_api.until_sent(user.id, 1, timeout=10)
    assert [c.status for c in fake_api.calls_to("sendMessage", chat_id=user.id)] == [502, 502, 200]


async def test_a_send_whose_answer_is_lost_is_not_repeated(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    """The connection drops after the request went out: Telegram may have sent it, so it is
    recorded as sent rather than risk a duplicate (issue 11 item 10)."""
    user = fake_api.user(1011)
    fake_api.fail("sendMessage", "drop", times=2, chat_id=user.id)
    fake_api.queue(fake_api.text_update(user, "hi"))
    await fake_api.until(lambda: not fake_api.pending_update_ids())
    assert [c.status for c in fake_api.calls_to("sendMessage", chat_id=user.id)] == [0]
    assert list(engine.sent.values()) == [None]


async def test_blocked_user_is_marked_unreachable(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    engine.reply = lambda m: [OutboundMessage(text="one"), OutboundMessage(text="two")]
    user = fake_api.user(1010)
    fake_api.block(user.id)
    fake_api.queue(fake_api.text_update(user, "hi"))
    await fake_api.until(lambda: engine.unreachable == ["1010"])
    await fake_api.until(lambda: not fake_api.pending_update_ids())
    # One refused attempt, no retries, nothing left in the outbox.
    assert [c.status for c in fake_api.calls_to("sendMessage", chat_id=user.id)] == [403]
    assert await engine.unsent("telegram") == []


async def test_store_down_update_not_acknowledged_then_recovers(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1011)
    engine.down = True
    ids = fake_api.queue(fake_api.text_update(user, "first"), fake_api.text_update(user, "second"))
    # Polled, failed, and polled again: never acknowledged while the store is down.
    await fake_api.until(lambda: len(fake_api.calls_to("getUpdates")) >= 4, timeout=10)
    assert fake_api.pending_update_ids() == ids
    assert fake_api.sent(user.id) == []
    engine.down = False
    await fake_api.until_sent(user.id, 2, timeout=15)
    await fake_api.until(lambda: not fake_api.pending_update_ids())
    assert fake_api.texts(user.id) == ["echo: first", "echo: second"]


async def test_chats_run_concurrently_and_each_in_order(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    slow, fast = fake_api.user(1012), fake_api.user(1013)
    engine.delays[str(slow.id)] = 0.3
    fake_api.queue(*(fake_api.text_update(slow, f"s{i}") for i in range(3)))
    fake_api.queue(fake_api.text_update(fast, "f"))
    await fake_api.until_sent(fast.id, 1)
    assert len(fake_api.sent(slow.id)) < 3  # the fast chat did not wait for the slow one
    await fake_api.until_sent(slow.id, 3)
    assert fake_api.texts(slow.id) == ["echo: s0", "echo: s1", "echo: s2"]


async def test_restart_flushes_outbox_once(
    fake_api: FakeBotAPI, engine: StubEngine, tmp_path: Path
) -> None:
    engine.outbox[99] = ("1014", OutboundMessage(text="left over", id=99, chat_id="1014"), None)
    settings = tg_settings(fake_api, tmp_path)
    async with TelegramBot(settings, engine, token=fake_api.token):
        await fake_api.until_sent(1014, 1)
    async with TelegramBot(settings, engine, token=fake_api.token):
        await fake_api.until(lambda: len(fake_api.calls_to("getUpdates")) >= 1)
    assert fake_api.texts(1014) == ["left over"] and 99 in engine.sent


async def test_long_text_split_and_images(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine, tmp_path: Path
) -> None:
    image = tmp_path / "map.png"
    image.write_bytes(b"\x89PNG map")
    from bot.messages import Attachment

    engine.reply = lambda m: [
        OutboundMessage(
            text=("line\n" * 1500).strip(),
            buttons=(Button("OK", "/affirm"),),
            images=(Attachment(kind="image", path=str(image)),),
        )
    ]
    user = fake_api.user(1015)
    fake_api.queue(fake_api.text_update(user, "hi"))
    sent = await fake_api.until_sent(user.id, 3)
    assert [c.method for c in sent] == ["sendMessage", "sendMessage", "sendPhoto"]
    assert "reply_markup" not in sent[0].params and "reply_markup" in sent[1].params
    assert all(len(c.params["text"]) <= 4096 for c in sent[:2])
    await fake_api.until(lambda: bool(engine.sent))
    assert list(engine.sent.values()) == [str(sent[1].result["message_id"])]


# ---------------------------------------------------------------------- webhook


@pytest.fixture
async def webhook_bot(
    fake_api: FakeBotAPI, engine: StubEngine, tmp_path: Path
) -> AsyncIterator[TelegramBot]:
    settings = tg_settings(
        fake_api,
        tmp_path,
        mode="webhook",
        webhook={"listen": "127.0.0.1", "port": 0, "path": "/tg/hook",
                 "public_url": "https://kefu.example/tg/hook"},
    )  # fmt: skip
    async with TelegramBot(settings, engine, token=fake_api.token, webhook_secret=SECRET) as bot:
        yield bot


async def test_webhook_secret_and_processing(
    webhook_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    registered = fake_api.calls_to("setWebhook")[0].params
    assert registered["url"] == "https://kefu.example/tg/hook"
    assert registered["secret_token"] == SECRET
    assert webhook_bot.webhook is not None
    url = webhook_bot.webhook.url
    user = fake_api.user(2001)
    update = fake_api.text_update(user, "via webhook")
    assert (await fake_api.post_webhook(update, url=url, secret=None)).status_code == 403
    assert (await fake_api.post_webhook(update, url=url, secret="wrong")).status_code == 403
    assert engine.inbound == []
    ok = await fake_api.post_webhook(update, url=url, secret=SECRET)
    assert ok.status_code == 200
    assert fake_api.texts(user.id) == ["echo: via webhook"]  # sent before answering 200
    again = await fake_api.post_webhook(update, url=url, secret=SECRET)
    assert again.status_code == 200 and len(fake_api.sent(user.id)) == 1


async def test_webhook_store_down_answers_5xx_then_recovers(
    webhook_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    assert webhook_bot.webhook is not None
    url = webhook_bot.webhook.url
    user = fake_api.user(2002)
    first, second = fake_api.text_update(user, "one"), fake_api.text_update(user, "two")
    engine.down = True
    assert (await fake_api.post_webhook(first, url=url, secret=SECRET)).status_code == 503
    engine.down = False
    # A later update of the same chat waits for the failed one (order is kept).
    assert (await fake_api.post_webhook(second, url=url, secret=SECRET)).status_code == 503
    assert (await fake_api.post_webhook(first, url=url, secret=SECRET)).status_code == 200
    assert (await fake_api.post_webhook(second, url=url, secret=SECRET)).status_code == 200
    assert fake_api.texts(user.id) == ["echo: one", "echo: two"]


async def test_webhook_health_and_bad_body(webhook_bot: TelegramBot, fake_api: FakeBotAPI) -> None:
    import httpx

    assert webhook_bot.webhook is not None
    base = f"http://127.0.0.1:{webhook_bot.webhook.port}"
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/healthz")).status_code == 200
        bad = await client.post(
            f"{base}/tg/hook",
            content=b"not json",
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert bad.status_code == 400


def test_run_without_token_explains_how_to_try_locally(
    fake_api: FakeBotAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.run import run_telegram

    settings = tg_settings(fake_api, tmp_path)
    assert run_telegram(settings, environ={}) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN" in err and "kefu chat" in err
    webhook = tg_settings(fake_api, tmp_path, mode="webhook")
    assert run_telegram(webhook, environ={"TELEGRAM_BOT_TOKEN": fake_api.token}) == 2
    assert "TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err
    assert fake_api.calls == []


async def test_slow_turn_shows_typing(
    polling_bot: TelegramBot, fake_api: FakeBotAPI, engine: StubEngine
) -> None:
    user = fake_api.user(1016)
    engine.delays[str(user.id)] = 2.0
    fake_api.queue(fake_api.text_update(user, "slow"))
    await fake_api.until_sent(user.id, 1)
    (typing,) = fake_api.calls_to("sendChatAction", chat_id=user.id)
    assert typing.params["action"] == "typing"
    assert typing.at < fake_api.sent(user.id)[0].at
    engine.delays.clear()
    fake_api.queue(fake_api.text_update(user, "fast"))
    await fake_api.until_sent(user.id, 2)
    assert len(fake_api.calls_to("sendChatAction")) == 1


async def test_long_payload_found_after_restart_from_the_outbox(
    fake_api: FakeBotAPI, engine: StubEngine, tmp_path: Path, sqlite_url: str
) -> None:
    """A fresh process has no memory of the short keys it sent: it finds the payload in the
    stored outbound message that carried the keyboard."""
    from datetime import UTC, datetime

    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    from bot.store.db import Database
    from bot.store.models import Contact, Conversation, Message

    long_payload = '/inform{"unit": "' + "九龍灣宏照道" * 6 + '"}'
    key = payload_key(long_payload)
    user = fake_api.user(1017, language_code="en")
    db = Database(sqlite_url)
    settings = tg_settings(fake_api, tmp_path)
    async with TelegramBot(settings, engine, token=fake_api.token, db=db) as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("That one", callback_data=key)]])
        sent = await bot.bot.send_message(user.id, "Which unit?", reply_markup=markup)
        now = datetime.now(UTC)
        async with db.write() as session:
            contact = Contact(created_at=now, updated_at=now)
            session.add(contact)
            await session.flush()
            conversation = Conversation(
                contact_id=contact.id, channel="telegram", chat_id=str(user.id),
                created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(conversation)
            await session.flush()
            out = OutboundMessage(text="Which unit?", buttons=(Button("That one", long_payload),))
            session.add(
                Message(
                    conversation_id=conversation.id, direction="out", text=out.text,
                    data=out.to_dict(), channel_message_id=str(sent.message_id),
                    created_at=now, sent_at=now,
                )
            )  # fmt: skip
        fake_api.queue(fake_api.callback_update(user, text="That one"))
        await fake_api.until_sent(user.id, 2)
    await db.dispose()
    assert engine.inbound[-1].payload == long_payload
    assert engine.inbound[-1].text == "That one"
