"""The console in a real headless Chromium against a real ``kefu run`` (web.enabled) and the
fake Bot API: log in, watch a resident's repair arrive live without reloading, open it and act.

Screenshots of the pages are written under ``var/screenshots/`` for a person to look at.
Chromium and ChromeDriver come from Debian (``.ci/run`` installs them); without them the test
is skipped locally and fails under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import SystemClock
from bot.store.db import Database
from bot.store.models import Ticket, TicketEvent
from bot.web.models import StaffRole
from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.conftest import fake_api  # noqa: F401  (the fixture)
from tests.telegram.processes import KefuRun, free_port
from tests.web.support import PASSWORD, SECRET, add_staff

pytestmark = [pytest.mark.process, pytest.mark.xdist_group("browser")]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Selenium (Debian's chromium and chromium-driver)."""
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI needs chromium and chromedriver (apt-get install chromium-driver)")
        pytest.skip("chromium/chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--lang=zh-HK"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, condition: Any, timeout: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


async def test_a_repair_reported_on_telegram_appears_live_and_is_worked_in_the_console(
    fake_api: FakeBotAPI,  # noqa: F811
    sqlite_url: str,
    tmp_path: Path,
    browser: Any,
) -> None:
    from selenium.webdriver.common.by import By

    db = Database(sqlite_url)
    await add_staff(db, SystemClock(), "amy@office.hk", StaffRole.MANAGER, language="zh-Hant")
    port = free_port()
    run = KefuRun(
        fake_api, sqlite_url, tmp_path,
        KEFU_WEB__ENABLED="true", KEFU_WEB__PORT=str(port), KEFU_WEB__POLL_INTERVAL="0.3s",
        KEFU_WEB_SECRET=SECRET, KEFU_SLA__POLL_INTERVAL="1s",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        assert (await run.get(f"{base}/login")).status_code == 200
        browser.get(f"{base}/")
        assert browser.current_url.endswith("/login")
        browser.find_element(By.ID, "email").send_keys("amy@office.hk")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "submit").click()
        wait_for(browser, lambda d: d.find_elements(By.ID, "rows"))
        wait_for(browser, lambda d: not d.find_element(By.ID, "live").get_attribute("hidden"))
        assert "沒有未完成的個案" in browser.find_element(By.ID, "rows").text

        # A resident reports a repair on Telegram, typing answers where buttons are offered.
        user = fake_api.user(7301, language_code="zh-hk")
        for n, text in enumerate(("部電梯壞咗", "B座12樓A室", "1", "91234567", "1"), start=1):
            fake_api.queue(fake_api.text_update(user, text))
            await fake_api.until(lambda n=n: len(fake_api.sent(user.id)) >= n, 60)
        async with db.session() as session:
            number = await session.scalar(select(Ticket.number))
        assert number is not None and number.startswith("R-")

        # The inbox shows it without a reload (server-sent events), with its countdown.
        row = await asyncio.to_thread(
            wait_for, browser, lambda d: d.find_elements(By.ID, f"ticket-{number}"), 30
        )
        assert "B座12樓A室" in row[0].text
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "inbox.png"))

        browser.find_element(By.LINK_TEXT, number).click()
        wait_for(browser, lambda d: d.find_elements(By.ID, "chat"))
        assert "部電梯壞咗" in browser.find_element(By.ID, "chat").text
        browser.find_element(By.ID, "note-text").send_keys("已通知技工，下午到")
        browser.find_element(By.ID, "add-note").click()
        wait_for(browser, lambda d: "已通知技工" in d.find_element(By.ID, "audit").text)
        browser.find_element(By.ID, "reply-text").send_keys("技工今日下午三點到")
        browser.find_element(By.ID, "send-reply").click()
        await fake_api.until(lambda: "技工今日下午三點到" in fake_api.texts(user.id), 30)
        browser.save_screenshot(str(SCREENSHOTS / "ticket.png"))
        browser.find_element(By.ID, "resolve").click()
        wait_for(browser, lambda d: d.find_elements(By.ID, "reopen"))
        browser.get(f"{base}/audit")
        wait_for(browser, lambda d: d.find_elements(By.ID, "audit-table"))
        browser.save_screenshot(str(SCREENSHOTS / "audit.png"))

        # The manager's reports page, with its charts, and the workbook downloaded.
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        browser.execute_cdp_cmd(
            "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        browser.get(f"{base}/reports")
        wait_for(browser, lambda d: d.find_elements(By.ID, "report"))
        wait_for(
            browser,
            lambda d: (
                d.execute_script("return document.getElementById('chart-pareto').naturalWidth") > 0
            ),
        )
        browser.save_screenshot(str(SCREENSHOTS / "reports.png"))
        browser.find_element(By.ID, "download-xlsx").click()
        await asyncio.to_thread(wait_for, browser, lambda d: list(downloads.glob("*.xlsx")), 60)
        (workbook,) = downloads.glob("*.xlsx")
        assert run.process.poll() is None
    finally:
        run.stop()
        await db.dispose()
    assert f"web console on {base}" in run.log()
    assert fake_api.texts(user.id).count("技工今日下午三點到") == 1
    async with Database(sqlite_url).session() as session:
        actions = list(await session.scalars(select(TicketEvent.action).order_by(TicketEvent.id)))
    assert actions[-3:] == ["note", "replied", "resolved"]
    from openpyxl import load_workbook

    book = load_workbook(workbook)
    assert book.sheetnames and book[book.sheetnames[0]].max_row > 1
