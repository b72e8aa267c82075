"""The web console over HTTP on real SQLite and PostgreSQL: sessions, CSRF, the login rate
limit, roles, the inbox order and the ticket actions with their audit trail."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.config import Settings
from bot.store.db import Database
from bot.store.models import Ticket, TicketEvent, TicketStatus
from bot.web.models import StaffAudit, StaffRole
from tests.web.support import add_staff, client, console, csrf_of, log_in, ticket

HTML = {"accept": "text/html"}


async def test_no_page_or_api_without_a_session(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    number = await ticket(db, settings, clock.now())
    async with client(console(settings, db, clock)) as http:
        page = await http.get("/", headers=HTML)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        for path in ("/api/inbox", "/events", "/inbox/rows", f"/tickets/{number}"):
            assert (await http.get(path)).status_code == 401, path
        login = await http.get("/login")
        posted = await http.post(
            f"/tickets/{number}/resolve", data={"csrf": csrf_of(login.text), "text": "x"}
        )
        assert posted.status_code == 401
    async with db.session() as session:
        assert (await session.scalar(select(Ticket.status))) == TicketStatus.OPEN


async def test_wrong_password_then_rate_limit_even_for_the_right_one(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    await add_staff(db, clock, "amy@office.hk")
    async with client(console(settings, db, clock)) as http:
        for _ in range(settings.web.login_attempts):
            assert (await log_in(http, "amy@office.hk", "wrong password!")).status_code == 401
        refused = await log_in(http, "amy@office.hk")
        assert refused.status_code == 429
        assert (await http.get("/api/inbox")).status_code == 401
        clock.advance(settings.web.login_window + timedelta(seconds=1))
        assert (await log_in(http, "AMY@office.hk ")).status_code == 303
        assert (await http.get("/api/inbox")).status_code == 200
    async with db.session() as session:
        actions = list(await session.scalars(select(StaffAudit.action).order_by(StaffAudit.id)))
    assert actions.count("login_failed") == settings.web.login_attempts
    assert actions[-2:] == ["login_refused", "login"]


async def test_inbox_is_sorted_by_the_next_deadline_and_counts_overdue(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    complaint = await ticket(db, settings, now - timedelta(days=5), kind="complaint")
    repair = await ticket(db, settings, now, category="water_leak", unit="B座12樓A室")
    older = await ticket(db, settings, now - timedelta(hours=1), category="lift")
    await add_staff(db, clock, "amy@office.hk")
    async with client(console(settings, db, clock)) as http:
        assert (await log_in(http, "amy@office.hk")).status_code == 303
        data = (await http.get("/api/inbox")).json()
        order = [r["number"] for r in data["rows"]]
        assert order[0] == complaint and data["overdue"] >= 1
        assert set(order) == {complaint, repair, older}
        dues = [r["next_due"] for r in data["rows"]]
        assert dues == sorted(dues)
        filtered = (await http.get("/api/inbox", params={"building": "B座"})).json()
        assert [r["number"] for r in filtered["rows"]] == [repair]
        page = await http.get("/", headers=HTML)
        assert page.status_code == 200
        assert f'id="ticket-{complaint}" class="overdue' in page.text


async def test_resolve_needs_the_csrf_token_and_is_audited(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    number = await ticket(db, settings, clock.now(), category="lift")
    await add_staff(db, clock, "amy@office.hk")
    async with client(console(settings, db, clock)) as http:
        await log_in(http, "amy@office.hk")
        page = await http.get(f"/tickets/{number}", headers=HTML)
        assert page.status_code == 200 and number in page.text
        forged = await http.post(f"/tickets/{number}/resolve", data={"text": "done"})
        assert forged.status_code == 403
        wrong = await http.post(f"/tickets/{number}/resolve", data={"csrf": "x" * 43})
        assert wrong.status_code == 403
        async with db.session() as session:
            assert (await session.scalar(select(Ticket.status))) == TicketStatus.OPEN
        token = csrf_of(page.text)
        done = await http.post(
            f"/tickets/{number}/resolve", data={"csrf": token, "text": "換咗燈膽"}
        )
        assert done.status_code == 303
        note = await http.post(
            f"/tickets/{number}/note", data={"csrf": token, "text": "已致電住戶"}
        )
        assert note.status_code == 303
        again = await http.post(f"/tickets/{number}/resolve", data={"csrf": token})
        assert again.status_code == 303  # refused with a message, not a crash
        shown = await http.get(f"/tickets/{number}", headers=HTML)
        assert "已致電住戶" in shown.text
    async with db.session() as session:
        t = await session.scalar(select(Ticket))
        assert t is not None and t.status == TicketStatus.RESOLVED
        events = list(await session.scalars(select(TicketEvent).order_by(TicketEvent.id)))
        audit = list(
            await session.scalars(select(StaffAudit.action).where(StaffAudit.target == number))
        )
    assert [(e.actor, e.action) for e in events[-2:]] == [
        ("staff:amy@office.hk", "resolved"),
        ("staff:amy@office.hk", "note"),
    ]
    assert audit == ["resolve", "note"]


async def test_an_agent_cannot_see_the_supervisors_audit_page(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    await add_staff(db, clock, "amy@office.hk")
    await add_staff(db, clock, "sam@office.hk", StaffRole.SUPERVISOR)
    app = console(settings, db, clock)
    async with client(app) as agent, client(app) as supervisor:
        await log_in(agent, "amy@office.hk")
        await log_in(supervisor, "sam@office.hk")
        assert (await agent.get("/audit", headers=HTML)).status_code == 403
        page = await supervisor.get("/audit", headers=HTML)
        assert page.status_code == 200 and "amy@office.hk" in page.text


async def test_pages_carry_security_headers_and_a_deactivated_account_is_out(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    from bot.web.models import StaffAccount

    await add_staff(db, clock, "amy@office.hk")
    async with client(console(settings, db, clock)) as http:
        await log_in(http, "amy@office.hk")
        page = await http.get("/", headers=HTML)
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert "httponly" in (await log_in(http, "amy@office.hk")).headers["set-cookie"].lower()
        async with db.write() as session:
            account = await session.scalar(select(StaffAccount))
            assert account is not None
            account.active = False
        assert (await http.get("/api/inbox")).status_code == 401


@pytest.mark.parametrize("language,word", [("zh-Hant", "工作清單"), ("en", "Inbox")])
async def test_the_console_speaks_the_staff_members_language(
    settings: Settings, db: Database, clock: FrozenClock, language: str, word: str
) -> None:
    await add_staff(db, clock, "amy@office.hk", language=language)
    async with client(console(settings, db, clock)) as http:
        await log_in(http, "amy@office.hk")
        assert word in (await http.get("/", headers=HTML)).text


async def test_a_reply_is_queued_once_in_the_customers_conversation(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    from bot.store.models import Contact, Conversation, Message

    now = clock.now()
    async with db.write() as session:
        contact = Contact(created_at=now, updated_at=now)
        session.add(contact)
        await session.flush()
        chat = Conversation(contact_id=contact.id, channel="telegram", chat_id="42",
                            created_at=now, updated_at=now)  # fmt: skip
        session.add(chat)
        await session.flush()
        chat_id = chat.id
    number = await ticket(db, settings, now, conversation_id=chat_id)
    phone = await ticket(db, settings, now)
    await add_staff(db, clock, "amy@office.hk")
    async with client(console(settings, db, clock)) as http:
        await log_in(http, "amy@office.hk")
        token = csrf_of((await http.get(f"/tickets/{number}", headers=HTML)).text)
        empty = await http.post(f"/tickets/{number}/reply", data={"csrf": token, "text": " "})
        assert empty.status_code == 303
        sent = await http.post(f"/tickets/{number}/reply", data={"csrf": token, "text": "下午到"})
        assert sent.status_code == 303
        nobody = await http.post(f"/tickets/{phone}/reply", data={"csrf": token, "text": "hi"})
        assert nobody.status_code == 303
        page = await http.get(f"/tickets/{phone}", headers=HTML)
        assert 'id="reply-text"' not in page.text
    async with db.session() as session:
        rows = list(
            await session.scalars(select(Message).where(Message.conversation_id == chat_id))
        )
        t = await session.scalar(select(Ticket).where(Ticket.number == number))
    assert [(m.direction, m.text, m.sender, m.sent_at) for m in rows] == [
        ("out", "下午到", "staff:amy@office.hk", None)
    ]
    assert t is not None and t.first_response_at == now


async def test_a_manager_sees_the_report_and_downloads_the_same_numbers_as_xlsx(
    settings: Settings, db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    now = clock.now()
    await ticket(db, settings, now - timedelta(days=2), kind="complaint", category="noise")
    await ticket(db, settings, now - timedelta(days=1), category="lift", unit="A座3樓B室")
    await add_staff(db, clock, "amy@office.hk")
    await add_staff(db, clock, "boss@office.hk", StaffRole.MANAGER, language="en")
    from tests.fees.support import fee

    async with db.write() as session:  # the collection rate comes from the fees' ledger
        await fee(session, "B1|F3|RA", "2026-11", "management", "1000",
                  now.date() - timedelta(days=3), now=now, paid="250")  # fmt: skip
    app = console(settings, db, clock)
    async with client(app) as agent, client(app) as manager:
        await log_in(agent, "amy@office.hk")
        await log_in(manager, "boss@office.hk")
        for path in ("/reports", "/reports/download.xlsx", "/reports/chart/pareto.png"):
            assert (await agent.get(path, headers=HTML)).status_code == 403, path
        page = await manager.get("/reports", headers=HTML)
        assert page.status_code == 200 and 'id="chart-fishbone"' in page.text
        assert "2026-11 | All buildings | 1 | 1000.00 | 250.00 | 25.0%" in page.text
        assert (await manager.get("/reports?from=2026-13-01", headers=HTML)).status_code == 400
        chart = await manager.get("/reports/chart/pareto.png")
        assert chart.headers["content-type"] == "image/png"
        assert chart.content.startswith(b"\x89PNG")
        xlsx = await manager.get("/reports/download.xlsx")
        assert xlsx.status_code == 200
        assert "attachment" in xlsx.headers["content-disposition"]
        pdf = await manager.get("/reports/download.pdf")
        assert pdf.content.startswith(b"%PDF")
    (tmp_path / "r.xlsx").write_bytes(xlsx.content)
    book = load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames and book[book.sheetnames[0]].max_row > 1
    assert "Collection" in book.sheetnames
    async with db.session() as session:
        exports = list(
            await session.scalars(
                select(StaffAudit.action).where(StaffAudit.email == "boss@office.hk")
            )
        )
    assert "export_xlsx" in exports and "export_pdf" in exports


async def test_staff_actions_in_the_console_go_through_the_staff_service(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    from bot.app import install_events
    from bot.staff.technicians import add_technician

    install_events(db, settings)  # as kefu web and kefu run do: the lifecycle's listeners
    number = await ticket(db, settings, clock.now(), category="lift", unit="A座3樓B室")
    async with db.write() as session:
        await add_technician(session, name="陳師傅", now=clock.now(), region="HK")
    await add_staff(db, clock, "amy@office.hk", language="en")
    async with client(console(settings, db, clock)) as http:
        await log_in(http, "amy@office.hk")
        page = await http.get(f"/tickets/{number}", headers=HTML)
        token = csrf_of(page.text)
        assert 'id="form-category"' in page.text and "陳師傅" in page.text

        async def act(action: str, **fields: str) -> str:
            reply = await http.post(f"/tickets/{number}/{action}", data={"csrf": token, **fields})
            assert reply.status_code == 303
            shown = await http.get(f"/tickets/{number}", headers=HTML)
            flash = shown.text.split('id="flash">', 1)[1].split("<", 1)[0]
            return flash

        async with db.session() as session:
            before = await session.scalar(select(Ticket))
        assert before is not None
        assert await act("priority", priority="urgent") == "Please give a reason."
        assert "deadlines recomputed" in await act("priority", priority="urgent", text="被困")
        assert await act("contact", channel="phone", text="called") == "Contact recorded."
        assert (await act("assign", technician="Nobody")).startswith("No such technician")
        assert await act("assign", technician="陳師傅") == "Technician assigned."
        assert (await act("callback", score="5", fixed="yes")).startswith("The ticket cannot")
        assert await act("resolve", text="fixed") == "Ticket resolved."
        assert await act("callback", score="9", fixed="yes") == "The score must be 1 to 5."
        assert await act("callback", score="5", fixed="yes") == "Call-back recorded."
    async with db.session() as session:
        after = await session.scalar(select(Ticket))
        events = list(await session.scalars(select(TicketEvent.action).order_by(TicketEvent.id)))
    assert after is not None and after.priority == "urgent"
    assert after.due_first_response is not None and before.due_first_response is not None
    assert after.due_first_response < before.due_first_response
    assert after.status == TicketStatus.CLOSED  # a good call-back closes it
    for action in ("priority_changed", "contacted", "assigned", "resolved", "callback", "closed"):
        assert action in events, action


async def test_the_household_file_in_the_console_and_its_export(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    number = await ticket(db, settings, clock.now(), category="lift", unit="3座18樓B室")
    await add_staff(db, clock, "amy@office.hk", language="zh-Hant")
    async with client(console(settings, db, clock)) as http:
        await log_in(http, "amy@office.hk")
        shown = await http.get(f"/tickets/{number}", headers=HTML)
        assert 'id="household-link"' in shown.text
        page = await http.get("/households", params={"unit": "3座18樓B室"}, headers=HTML)
        assert page.status_code == 200 and number in page.text
        assert 'id="household-tickets"' in page.text
        floor = await http.get("/households", params={"unit": "3座18樓"}, headers=HTML)
        assert floor.status_code == 400  # a floor is not a household
        nobody = await http.get("/households", params={"unit": "9座1樓A室"}, headers=HTML)
        assert 'id="empty"' in nobody.text
        xlsx = await http.get("/households/export.xlsx", params={"unit": "3座18樓B室"})
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    async with client(console(settings, db, clock)) as stranger:
        assert (await stranger.get("/households", params={"unit": "3座18樓B室"})).status_code == 401


async def test_a_manager_composes_a_notice_and_sees_its_delivery_status(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    from bot.followups.models import Followup
    from bot.notices.models import Notice

    await add_staff(db, clock, "amy@office.hk")
    await add_staff(db, clock, "boss@office.hk", StaffRole.MANAGER, language="en")
    app = console(settings, db, clock)
    async with client(app) as agent, client(app) as manager:
        await log_in(agent, "amy@office.hk")
        await log_in(manager, "boss@office.hk")
        assert (await agent.get("/notices", headers=HTML)).status_code == 403
        page = await manager.get("/notices", headers=HTML)
        token = csrf_of(page.text)
        empty = await manager.post("/notices", data={"csrf": token, "everyone": "1"})
        assert empty.status_code == 400 and 'id="error"' in empty.text
        forged = await agent.post("/notices", data={"title_zh-Hant": "x", "body_zh-Hant": "y"})
        assert forged.status_code == 403
        made = await manager.post(
            "/notices",
            data={"csrf": token, "title_zh-Hant": "停水通知", "body_zh-Hant": "今日二時至四時停水",
                  "title_en": "Water cut", "body_en": "No water 2-4 pm today",
                  "blocks": "7，8", "urgent": "1"},
        )  # fmt: skip
        assert made.status_code == 303
        status = await manager.get(made.headers["location"], headers=HTML)
        assert status.status_code == 200 and "Water cut" in status.text
        evaluation = await manager.get("/evaluation", headers=HTML)
        assert evaluation.status_code == 200 and 'id="no-campaign"' in evaluation.text
        bad = await manager.get("/evaluation", params={"quarter": "2026Q9"}, headers=HTML)
        assert bad.status_code == 400
    async with db.session() as session:
        notice = await session.scalar(select(Notice))
        sends = list(await session.scalars(select(Followup.kind)))
    assert notice is not None and notice.kind == "urgent"
    assert notice.audience.get("blocks") == ["7", "8"]
    assert notice.created_by == "staff:boss@office.hk"
    assert notice.title == {"zh-Hant": "停水通知", "en": "Water cut"}
    assert sends  # scheduled for kefu run's workers


async def test_claim_and_assign_an_agent_cannot_take_a_colleagues_ticket(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    number = await ticket(db, settings, clock.now(), category="lift")
    other = await ticket(db, settings, clock.now(), category="lift")
    await add_staff(db, clock, "amy@office.hk", language="en")
    await add_staff(db, clock, "ben@office.hk", language="en")
    await add_staff(db, clock, "sam@office.hk", StaffRole.SUPERVISOR, language="en")
    app = console(settings, db, clock)
    async with client(app) as amy, client(app) as ben, client(app) as sam:
        for http, email in ((amy, "amy@office.hk"), (ben, "ben@office.hk"), (sam, "sam@office.hk")):
            await log_in(http, email)

        async def act(http: httpx.AsyncClient, action: str, **fields: str) -> str:
            page = await http.get(f"/tickets/{number}", headers=HTML)
            reply = await http.post(
                f"/tickets/{number}/{action}", data={"csrf": csrf_of(page.text), **fields}
            )
            assert reply.status_code == 303
            shown = await http.get(f"/tickets/{number}", headers=HTML)
            return shown.text.split('id="flash">', 1)[1].split("<", 1)[0]

        assert await act(amy, "claim") == "You have the ticket now."
        assert (await act(ben, "claim")).startswith("A colleague has this ticket")
        assert await act(ben, "assign_staff", staff="ben@office.hk") == (
            "Only a supervisor can assign tickets."
        )
        assert await act(sam, "assign_staff", staff="nobody@office.hk") == (
            "No such staff account."
        )
        assert await act(sam, "assign_staff", staff="ben@office.hk") == "Ticket assigned."
        mine = (await ben.get("/api/inbox", params={"owner": "me"})).json()
        assert [r["number"] for r in mine["rows"]] == [number]
        nobodys = (await ben.get("/api/inbox", params={"owner": "none"})).json()
        assert [r["number"] for r in nobodys["rows"]] == [other]
        assert mine["rows"][0]["owner"] == "ben"
    async with db.session() as session:
        events = list(
            await session.scalars(
                select(TicketEvent)
                .join(Ticket)
                .where(Ticket.number == number)
                .order_by(TicketEvent.id)
            )
        )
    trail = [(e.actor, e.action, e.data.get("staff")) for e in events[-2:]]
    assert trail == [
        ("staff:amy@office.hk", "claimed", "amy@office.hk"),
        ("staff:sam@office.hk", "assigned_staff", "ben@office.hk"),
    ]


async def test_the_customers_photo_is_shown_to_staff_and_nothing_else_is_read(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    from bot.store.models import Contact, Conversation, Message

    now = clock.now()
    media = Path(settings.var_dir) / "media" / "42"
    media.mkdir(parents=True)
    photo = media / "leak.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    async with db.write() as session:
        contact = Contact(created_at=now, updated_at=now)
        session.add(contact)
        await session.flush()
        chats = [
            Conversation(
                contact_id=contact.id,
                channel="telegram",
                chat_id=str(n),
                created_at=now,
                updated_at=now,
            )
            for n in (42, 43)
        ]
        session.add_all(chats)
        await session.flush()
        files = [
            {"kind": "photo", "path": str(photo), "mime_type": "image/png"},
            {"kind": "document", "path": "/etc/passwd", "name": "passwd"},
        ]
        ours = Message(conversation_id=chats[0].id, direction="in", text="",
                       data={"attachments": files}, created_at=now)  # fmt: skip
        theirs = Message(conversation_id=chats[1].id, direction="in", text="",
                         data={"attachments": files}, created_at=now)  # fmt: skip
        session.add_all([ours, theirs])
        await session.flush()
        ours_id, theirs_id, chat_id = ours.id, theirs.id, chats[0].id
    number = await ticket(db, settings, now, conversation_id=chat_id)
    await add_staff(db, clock, "amy@office.hk")
    async with client(console(settings, db, clock)) as http:
        url = f"/tickets/{number}/files/{ours_id}/0"
        assert (await http.get(url)).status_code == 401
        await log_in(http, "amy@office.hk")
        page = await http.get(f"/tickets/{number}", headers=HTML)
        assert f'src="{url}"' in page.text
        shown = await http.get(url)
        assert shown.status_code == 200 and shown.content == photo.read_bytes()
        assert shown.headers["content-type"] == "image/png"
        # A stored path outside the media folders, another chat's message, a wrong index.
        for bad in (f"/tickets/{number}/files/{ours_id}/1",
                    f"/tickets/{number}/files/{theirs_id}/0",
                    f"/tickets/{number}/files/{ours_id}/7"):  # fmt: skip
            assert (await http.get(bad, headers=HTML)).status_code == 404, bad


async def test_a_login_rehashes_a_password_hashed_at_another_cost(
    db: Database, settings: Settings, clock: FrozenClock
) -> None:
    """``web.password_hashing`` is the cost of new hashes, and an older hash is made again at
    that cost when its owner logs in (the parameters are in the hash: ``t=`` time cost)."""
    from bot.web.accounts import login
    from bot.web.models import StaffAccount

    await add_staff(db, clock, "rehash@kefu.example")  # tests/web/support.HASHING: t=1
    dearer = settings.web.password_hashing.model_copy(update={"time_cost": 2})
    async with db.write() as session:
        result = await login(
            session, email="rehash@kefu.example", password="correct horse battery", client=None,
            now=clock.now(), attempts=5, window=timedelta(minutes=15), hashing=dearer,
        )  # fmt: skip
        assert result.account is not None
    async with db.session() as session:
        account = await session.scalar(
            select(StaffAccount).where(StaffAccount.email == "rehash@kefu.example")
        )
        assert account is not None and ",t=2," in account.password_hash
