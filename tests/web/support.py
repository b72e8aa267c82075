"""The console under test: the real Starlette app on a real database, driven over HTTP by
httpx (in process) or by a real Chromium (tests/web/test_browser.py)."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
from starlette.applications import Starlette

from bot.clock import Clock
from bot.config import Settings
from bot.config.web import PasswordHashing
from bot.followups.deadlines import apply_deadlines
from bot.store.db import Database
from bot.store.models import Ticket
from bot.tickets.service import open_ticket
from bot.web.accounts import add_account
from bot.web.app import create_app
from bot.web.models import StaffRole

SECRET = "test-secret-of-the-console-0123456789"
PASSWORD = "correct horse battery"
# The cost tests/conftest.py's settings give argon2 (the console's logins hash with those).
HASHING = PasswordHashing(time_cost=1, memory_kib=8, parallelism=1)


def console(settings: Settings, db: Database, clock: Clock) -> Starlette:
    return create_app(settings, db, clock, secret=SECRET)


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def add_staff(
    db: Database, clock: Clock, email: str, role: StaffRole = StaffRole.AGENT, **kw: object
) -> None:
    async with db.write() as session:
        await add_account(
            session, email=email, name=email.split("@")[0], role=role, password=PASSWORD,
            now=clock.now(), hashing=HASHING, **kw,  # type: ignore[arg-type]
        )  # fmt: skip


async def ticket(
    db: Database, settings: Settings, now: datetime, kind: str = "repair", **kw: object
) -> str:
    async with db.write() as session:
        t: Ticket = await open_ticket(session, kind=kind, now=now, actor="customer", **kw)  # type: ignore[arg-type]
        await apply_deadlines(session, t, settings, now)
        return t.number


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def log_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await http.get("/login")
    return await http.post(
        "/login", data={"email": email, "password": password, "csrf": csrf_of(page.text)}
    )
