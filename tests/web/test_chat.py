"""The web chat over real HTTP (uvicorn on a free port, httpx as the browser) on a real engine,
NLU and database (SQLite and PostgreSQL): a visitor talks and hears back over the stream, an
agent's reply reaches them once, history comes back on reconnect; and the limits hold."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.models import Conversation, Message
from tests.web.chat_support import EVIL, PNG, SHOP, Served, texts


async def test_a_visitor_talks_and_hears_back_over_the_stream(served: Served) -> None:
    visitor = served.visitor()
    hello = await visitor.hello()
    assert hello.json()["texts"]["send"] == "Send"
    assert "kefu_visitor" in hello.headers["set-cookie"]
    assert "httponly" in hello.headers["set-cookie"].lower()

    replies = await visitor.replies_to("Hello, what are your office hours?")
    assert replies and all(m["from"] == "kefu" for m in replies)
    assert visitor.seen[0] == {
        "id": visitor.seen[0]["id"],
        "from": "visitor",
        "text": "Hello, what are your office hours?",
        "photos": 0,
    }
    async with served.app.db.session() as session:
        unsent = await session.scalars(
            select(Message.id).where(Message.direction == "out", Message.sent_at.is_(None))
        )
        assert list(unsent) == []
    await visitor.close()


async def test_buttons_come_as_buttons_and_pressing_one_sends_its_payload(served: Served) -> None:
    visitor = served.visitor(language="en-GB")
    assert (await visitor.hello()).json()["language"] == "en"
    replies = await visitor.replies_to("部電梯壞咗")
    # The engine reads the visitor's language; the chat box's own texts follow it.
    assert visitor.languages[-1]["language"] == "zh-Hant"
    assert visitor.languages[-1]["texts"]["send"] == "傳送"
    buttons = [b for m in replies for b in m["buttons"]]
    assert "" not in [b["title"] for b in buttons]
    replies = await visitor.replies_to("B座12樓A室")
    buttons = [b for m in replies for b in m["buttons"]]
    assert buttons, texts(replies)
    first = buttons[0]
    replies = await visitor.replies_to(first["title"], payload=first["payload"])
    assert replies
    await visitor.close()


async def test_an_agents_reply_reaches_the_visitor_once_and_history_comes_back(
    served: Served,
) -> None:
    visitor = served.visitor()
    await visitor.hello()
    await visitor.replies_to("Hello")
    async with served.app.db.session() as session:
        conversation = await session.scalar(select(Conversation.id))
    assert conversation is not None
    await served.app.engine.send_text(
        conversation, "A technician comes at 3 pm.", sender="agent:42"
    )
    last = max(m["id"] for m in visitor.seen)
    got = await visitor.read(lambda items: bool(items), after=last)
    assert [(m["from"], m["text"]) for m in got] == [("agent", "A technician comes at 3 pm.")]

    # A new page (no last id) gets the whole history; after the last id, nothing again.
    history = await visitor.read(lambda items: bool(items))
    assert [m["id"] for m in history] == [m["id"] for m in visitor.seen[: len(history)]]
    assert history[-1]["text"] == "A technician comes at 3 pm."
    again = await visitor.read(lambda items: True, after=history[-1]["id"])
    assert again == []
    await visitor.close()


async def test_message_size_and_rate_are_limited(served: Served) -> None:
    visitor = served.visitor()
    await visitor.hello()
    too_long = await visitor.say("x" * 201)
    assert too_long.status_code == 413
    assert too_long.json()["message"] == "That message is too long (at most 200 characters)."
    statuses = [(await visitor.say(f"hello {n}")).status_code for n in range(7)]
    assert statuses == [202] * 6 + [429]
    assert (await visitor.say("hello")).json()["error"] == "too_fast"
    await visitor.close()


async def test_uploads_take_only_small_photos(served: Served) -> None:
    visitor = served.visitor()
    await visitor.hello()
    fake = await visitor.http.post(
        "/chat/api/photos", files={"photo": ("x.jpg", b"#!/bin/sh\nrm -rf /\n", "image/jpeg")}
    )
    assert fake.status_code == 415, fake.text
    assert "Only photos can be uploaded" in fake.json()["message"]
    big = await visitor.http.post(
        "/chat/api/photos", files={"photo": ("x.png", PNG + b"\x00" * 2000, "image/png")}
    )
    assert big.status_code == 413
    ok = await visitor.http.post("/chat/api/photos", files={"photo": ("x.png", PNG, "image/png")})
    assert ok.status_code == 202, ok.text
    items = await visitor.read(lambda got: any(m["from"] == "kefu" for m in got))
    assert items[0]["photos"] == 1
    async with served.app.db.session() as session:
        inbound = await session.scalar(select(Message).where(Message.direction == "in"))
    assert inbound is not None
    [photo] = inbound.data["attachments"]
    assert photo["mime_type"] == "image/png" and photo["path"].endswith(".png")
    await visitor.close()


async def test_cors_answers_only_configured_origins(served: Served) -> None:
    shop = served.visitor(origin=SHOP)
    hello = await shop.hello()
    assert hello.headers["access-control-allow-origin"] == SHOP
    assert hello.headers["access-control-allow-credentials"] == "true"
    said = await shop.say("Hello")
    assert said.status_code == 202 and said.headers["access-control-allow-origin"] == SHOP
    preflight = await shop.http.options(
        "/chat/api/messages", headers={"access-control-request-method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SHOP

    evil = served.visitor(origin=EVIL)
    assert (await evil.http.get("/chat/api/hello")).status_code == 403
    evil.http.cookies = shop.http.cookies  # the shop visitor's own cookie, sent from a foreign page
    assert (await evil.say("Hello")).status_code == 403
    assert (await evil.http.get("/chat/api/stream")).status_code == 403
    refused = await evil.http.options(
        "/chat/api/messages", headers={"access-control-request-method": "POST"}
    )
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    await shop.close()
    await evil.close()


async def test_the_chat_page_and_the_script_are_served_by_kefu(served: Served) -> None:
    visitor = served.visitor(language="zh-CN")
    page = await visitor.http.get("/chat")
    assert page.status_code == 200 and "<title>客服</title>" in page.text
    assert '<script src="/chat/widget.js"></script>' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = await visitor.http.get("/chat/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text and "http" not in script.text.split("*/", 1)[1]
    style = await visitor.http.get("/chat/widget.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    hello = await visitor.hello()
    assert hello.json()["texts"]["send"] == "发送"
    await visitor.close()
