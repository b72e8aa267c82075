"""Web chat security over real HTTP: a visitor reaches only their own conversation (the signed
cookie is the only key, and a forged one is refused), writes need an allowed origin (CSRF), and
orders are disclosed only to a visitor who proved the order's phone with a one-time code."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from bot.store.models import ChannelIdentity, Contact, Conversation
from tests.web.chat_support import SHOPPER_PHONE, Served, texts


@pytest.fixture
async def pair(served: Served) -> AsyncIterator[tuple[Any, Any]]:
    alice, bob = served.visitor(), served.visitor()
    await alice.hello()
    await bob.hello()
    yield alice, bob
    await alice.close()
    await bob.close()


async def test_a_visitor_sees_only_their_own_conversation(
    served: Served,
    pair: tuple[Any, Any],
) -> None:
    alice, bob = pair
    await alice.replies_to("The lift at Block B 12/F flat A is broken, I am Alice Chan")
    await bob.replies_to("Hello")
    bobs = await bob.read(lambda items: bool(items))
    assert "Alice" not in texts(bobs) and "Block B" not in texts(bobs)
    alices = await alice.read(lambda items: bool(items))
    assert {m["id"] for m in alices}.isdisjoint({m["id"] for m in bobs})
    async with served.app.db.session() as session:
        chats = set(await session.scalars(select(Conversation.chat_id)))
    assert len(chats) == 2 and all(chat.startswith("w") for chat in chats)


async def test_a_forged_or_missing_cookie_is_refused(
    served: Served,
    pair: tuple[Any, Any],
) -> None:
    alice, _bob = pair
    await alice.replies_to("Hello")
    async with served.app.db.session() as session:
        alice_id = await session.scalar(select(Conversation.chat_id))
    assert alice_id is not None
    mallory = served.visitor()
    # No cookie at all; a cookie for Alice's id signed with another key; a mangled cookie.
    assert (await mallory.http.get("/chat/api/stream")).status_code == 401
    assert (await mallory.say("hi")).status_code == 401
    forged = URLSafeTimedSerializer("not-the-secret-0123456789", salt="kefu-web-chat-visitor")
    mallory.http.cookies.set("kefu_visitor", forged.dumps(alice_id), path="/chat")
    assert (await mallory.http.get("/chat/api/stream")).status_code == 401
    mallory.http.cookies.clear()
    mangled = alice.http.cookies["kefu_visitor"][:-3] + "AAA"
    mallory.http.cookies.set("kefu_visitor", mangled, path="/chat")
    assert (await mallory.http.get("/chat/api/stream")).status_code == 401
    assert (await mallory.say("hi")).status_code == 401
    await mallory.close()


async def test_writes_without_an_allowed_origin_are_refused(
    pair: tuple[Any, Any],
) -> None:
    alice, _bob = pair
    no_origin = await alice.http.post(
        "/chat/api/messages", json={"text": "hi"}, headers={"origin": ""}
    )
    assert no_origin.status_code == 403
    referer = await alice.http.post(
        "/chat/api/messages",
        json={"text": "hi"},
        headers={"origin": "", "referer": "http://evil.example/page"},
    )
    assert referer.status_code == 403
    # A form post from another page cannot pass for JSON either.
    form = await alice.http.post("/chat/api/messages", data={"text": "hi"})
    assert form.status_code == 400 and form.json()["error"] == "bad_request"


async def test_orders_only_after_the_visitor_proves_the_phone(
    served: Served,
    pair: tuple[Any, Any],
) -> None:
    alice, bob = pair
    # Bob, unverified, asks about the order: a challenge, nothing disclosed.
    bobs = texts(await bob.replies_to("where is my order SO88412"))
    assert "SF1234567890" not in bobs and "shipped" not in bobs, bobs

    sent = await alice.http.post("/chat/api/verify", json={"address": SHOPPER_PHONE})
    assert sent.status_code == 200, sent.text
    [(kind, address, code)] = served.codes.sent
    assert (kind, address) == ("phone", "+85261234567")
    # Bob cannot use Alice's code; a wrong code is refused.
    assert (await bob.http.post("/chat/api/verify/confirm", json={"code": code})).status_code == 400
    wrong = "000000" if code != "000000" else "111111"
    refused = await alice.http.post("/chat/api/verify/confirm", json={"code": wrong})
    assert refused.status_code == 400 and "wrong" in refused.json()["message"]
    ok = await alice.http.post("/chat/api/verify/confirm", json={"code": code})
    assert ok.status_code == 200 and "+85261234567" in ok.json()["message"]
    # Used once only.
    again = await alice.http.post("/chat/api/verify/confirm", json={"code": code})
    assert again.status_code == 400

    alices = texts(await alice.replies_to("where is my order SO88412"))
    assert "SF1234567890" in alices, alices
    bobs = texts(await bob.replies_to("where is my order SO88412"))
    assert "SF1234567890" not in bobs, bobs


async def test_a_code_has_limited_attempts_and_an_email_is_linked(
    served: Served,
    pair: tuple[Any, Any],
) -> None:
    alice, bob = pair
    bad = await alice.http.post("/chat/api/verify", json={"address": "not a phone"})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_address"
    await alice.http.post("/chat/api/verify", json={"address": SHOPPER_PHONE})
    code = served.codes.sent[-1][2]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        await alice.http.post("/chat/api/verify/confirm", json={"code": wrong})
    late = await alice.http.post("/chat/api/verify/confirm", json={"code": code})
    assert late.status_code == 400  # five wrong guesses used the code up

    await bob.http.post("/chat/api/verify", json={"address": "Bob@Shop.example"})
    kind, address, code = served.codes.sent[-1]
    assert (kind, address) == ("email", "bob@shop.example")
    assert (await bob.http.post("/chat/api/verify/confirm", json={"code": code})).status_code == 200
    async with served.app.db.session() as session:
        emails = list(
            await session.scalars(
                select(Contact.email)
                .join(ChannelIdentity, ChannelIdentity.contact_id == Contact.id)
                .where(ChannelIdentity.channel == "web")
            )
        )
        contacts = await session.scalar(select(func.count()).select_from(Contact))
    assert emails == ["bob@shop.example"] and contacts == 1


async def test_the_default_sender_logs_the_code_with_the_address_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.channels.web.codes import LogCodeSender

    await LogCodeSender().send("phone", "+85261234567", "123456", "en")
    assert "+852****4567: 123456" in caplog.text and "61234567" not in caplog.text


async def test_a_visitor_may_hold_only_a_few_streams_open(pair: tuple[Any, Any]) -> None:
    alice, _bob = pair
    lines = []  # kept: a line iterator that is dropped closes its response
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(4):
            response = await stack.enter_async_context(alice.http.stream("GET", "/chat/api/stream"))
            assert response.status_code == 200
            lines.append(response.aiter_lines())
            await anext(lines[-1])  # the stream is running
        refused = await alice.http.get("/chat/api/stream", timeout=5)
        assert refused.status_code == 429


async def test_a_proven_email_shows_that_emails_orders_when_the_office_trusts_it(
    served: Served, pair: tuple[Any, Any]
) -> None:
    served.app.settings.orders.trust_contact_email = True  # the office's choice (config)
    carol, bob = pair
    await carol.http.post("/chat/api/verify", json={"address": "carol@shop.example"})
    code = served.codes.sent[-1][2]
    assert (await carol.http.post("/chat/api/verify/confirm", json={"code": code})).is_success
    carols = texts(await carol.replies_to("where is my order SO88500"))
    assert "Status: being prepared" in carols, carols
    bobs = texts(await bob.replies_to("where is my order SO88500"))
    assert "being prepared" not in bobs and "2026-11-30" not in bobs, bobs
