"""The web chat in a real headless Chromium against a real ``kefu run`` (web console and web
chat on, the fake Bot API for Telegram): a shop's page on another origin embeds the chat box
with one script tag; a visitor files a repair by typing and pressing buttons; the office sees
the ticket in the console and its reply reaches the chat box without a reload.

Screenshots go to ``var/screenshots/chat.png`` (and ``chat-reply.png``) for a person to see.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import SystemClock
from bot.store.db import Database
from bot.store.models import Conversation, Ticket
from bot.web.models import StaffRole
from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.conftest import fake_api  # noqa: F401  (the fixture)
from tests.telegram.processes import KefuRun, free_port
from tests.web.support import PASSWORD, SECRET, add_staff
from tests.web.test_browser import SCREENSHOTS, browser, wait_for  # noqa: F401

pytestmark = [pytest.mark.process, pytest.mark.xdist_group("browser")]

SHOP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>A shop</h1><p>Our products.</p>
<script src="{kefu}/chat/widget.js"></script></body></html>"""


@pytest.fixture
def shop() -> Iterator[tuple[str, list[str]]]:
    """A shop's page on its own origin; the Kefu origin is filled in once known."""
    kefu: list[str] = []

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = SHOP_PAGE.format(kefu=kefu[0]).encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", kefu
    finally:
        server.shutdown()
        server.server_close()


def chat_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, "kefu-log").text)


def kefu_messages(driver: Any) -> int:
    from selenium.webdriver.common.by import By

    return len(driver.find_elements(By.CSS_SELECTOR, ".kefu-from-kefu, .kefu-from-agent"))


async def test_a_visitor_files_a_repair_from_the_chat_box_on_a_shop_page(
    fake_api: FakeBotAPI,  # noqa: F811
    sqlite_url: str,
    tmp_path: Any,
    browser: Any,  # noqa: F811
    shop: tuple[str, list[str]],
) -> None:
    from selenium.webdriver.common.by import By

    shop_url, kefu = shop
    db = Database(sqlite_url)
    await add_staff(db, SystemClock(), "amy@office.hk", StaffRole.SUPERVISOR, language="zh-Hant")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    kefu.append(base)
    run = KefuRun(
        fake_api, sqlite_url, tmp_path,
        KEFU_WEB__ENABLED="true", KEFU_WEB__PORT=str(port), KEFU_WEB_SECRET=SECRET,
        KEFU_WEB__CHAT__ENABLED="true", KEFU_WEB__CHAT__ALLOWED_ORIGINS=f'["{shop_url}"]',
        KEFU_WEB__CHAT__POLL_INTERVAL="0.3s", KEFU_WEB__POLL_INTERVAL="0.3s",
    )  # fmt: skip
    try:
        assert (await run.get(f"{base}/chat")).status_code == 200
        browser.get(shop_url)
        launcher = wait_for(browser, lambda d: d.find_element(By.ID, "kefu-launcher"))
        wait_for(browser, lambda d: d.find_element(By.ID, "kefu-launcher").text)
        launcher.click()
        box = browser.find_element(By.ID, "kefu-box")
        assert box.is_displayed()

        def say(text: str) -> None:
            before = kefu_messages(browser)
            field = browser.find_element(By.ID, "kefu-text")
            field.send_keys(text)
            browser.find_element(By.ID, "kefu-send").click()
            wait_for(browser, lambda d: kefu_messages(d) > before)

        def press_first_button() -> None:
            before = kefu_messages(browser)
            choices = [b for b in browser.find_elements(By.CSS_SELECTOR, ".kefu-choice")
                       if b.is_enabled()]  # fmt: skip
            assert choices, chat_text(browser)
            choices[0].click()
            wait_for(browser, lambda d: kefu_messages(d) > before)

        await asyncio.to_thread(say, "部電梯壞咗")
        # The engine reads Cantonese: the chat box's own texts follow the conversation.
        wait_for(browser, lambda d: d.find_element(By.ID, "kefu-send").text == "傳送")
        await asyncio.to_thread(say, "B座12樓A室")
        await asyncio.to_thread(press_first_button)
        await asyncio.to_thread(say, "91234567")
        await asyncio.to_thread(press_first_button)
        async with db.session() as session:
            ticket = await session.scalar(select(Ticket))
            conversation = await session.scalar(select(Conversation))
        assert ticket is not None and ticket.number.startswith("R-"), chat_text(browser)
        assert conversation is not None and conversation.channel == "web"
        assert ticket.number in chat_text(browser)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "chat.png"))

        # The office sees the web customer's ticket in the console and replies from there.
        shop_tab = browser.current_window_handle
        browser.switch_to.new_window("tab")
        browser.get(f"{base}/login")
        browser.find_element(By.ID, "email").send_keys("amy@office.hk")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "submit").click()
        row = wait_for(browser, lambda d: d.find_elements(By.ID, f"ticket-{ticket.number}"))
        assert "B座12樓A室" in row[0].text
        browser.find_element(By.LINK_TEXT, ticket.number).click()
        wait_for(browser, lambda d: d.find_elements(By.ID, "reply-text"))
        browser.find_element(By.ID, "reply-text").send_keys("技工今日下午三點到")
        browser.find_element(By.ID, "send-reply").click()
        browser.switch_to.window(shop_tab)
        await asyncio.to_thread(
            wait_for, browser, lambda d: "技工今日下午三點到" in chat_text(d), 30
        )
        browser.save_screenshot(str(SCREENSHOTS / "chat-reply.png"))
        assert run.process.poll() is None
    finally:
        run.stop()
        await db.dispose()
    assert chat_text(browser).count("技工今日下午三點到") == 1
