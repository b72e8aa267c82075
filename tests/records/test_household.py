"""One file per household (一戶一檔): ``household_file`` and ``kefu household show``.

Real databases (SQLite and PostgreSQL), the real CLI with the project's dialogues: the file of
a unit holds its residents, its tickets and complaints with their history, phone call-backs
and chat surveys, the fee balance and the payments, whatever spelling names the unit.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import FeesSettings, Settings
from bot.household import household_file, household_for_ticket, parse_unit_text, render_brief
from bot.household.cli import ResponseTexts
from bot.records.models import ContactResident, FeeItem, Resident
from bot.records.units import read_unit
from bot.store.db import Database
from bot.store.models import Contact, Ticket
from bot.tickets import add_event, open_ticket

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Hong_Kong")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
OFFICE_WORDS = (
    "== 一戶一檔 ==", "== 住戶 ==", "業主", "租客", "== 工單及投訴 ==", "投訴", "噪音",
    "== 回訪及滿意度 ==", "電話回訪", "師傅好好", "== 欠費 ==", "管理費", "== 繳費記錄 ==",
    "1,500.00",
)  # fmt: skip


async def _records(db: Database) -> dict[str, str]:
    """Unit 3座18樓B室 with an owner and a tenant, tickets, call-backs, fees; a neighbour too."""
    flat = read_unit("3座18樓B室", "zh-Hant")
    other = read_unit("3座18樓C室", "zh-Hant")
    assert flat is not None and other is not None
    numbers: dict[str, str] = {}
    async with db.write() as s:
        owner = Resident(
            unit_key=flat.key, unit_display=flat.display, unit_parts=flat.parts, name="陳大文",
            phone="+85291234567", role="owner", move_in=date(2019, 3, 1),
            created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        tenant = Resident(
            unit_key=flat.key, unit_display=flat.display, unit_parts=flat.parts, name="李小明",
            phone="+85261234567", role="tenant", created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        neighbour = Resident(
            unit_key=other.key, unit_display=other.display, unit_parts=other.parts, name="張三",
            phone="+85251234567", role="owner", created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        contact = Contact(phone="+85291234567", phone_verified=True, created_at=NOW, updated_at=NOW)
        s.add_all([owner, tenant, neighbour, contact])
        await s.flush()
        s.add(ContactResident(contact_id=contact.id, resident_id=owner.id, linked_at=NOW))
        earlier = NOW - timedelta(days=10)
        repair = await open_ticket(
            s, kind="repair", category="water_leak", now=earlier, actor="customer",
            unit="3座18樓B室", details={"unit": flat.parts}, contact_id=contact.id,
            description="廚房水龍頭漏水，打 9123 4567 搵我",
        )  # fmt: skip
        repair.status, repair.resolved_at = "resolved", earlier + timedelta(days=1)
        repair.survey_score, repair.survey_fixed = 4, True
        await add_event(
            s, repair, actor="user:1", action="survey_answered", now=earlier + timedelta(days=2),
            data={"score": 4, "fixed": True, "comment": None},
        )  # fmt: skip
        await add_event(
            s, repair, actor="staff:amy", action="callback", now=earlier + timedelta(days=3),
            data={"score": 5, "fixed": True, "comment": "師傅好好", "channel": "phone"},
        )  # fmt: skip
        # Written by a chat in English: the same flat, spelt another way, without parts.
        complaint = await open_ticket(
            s, kind="complaint", category="noise", now=NOW, actor="customer",
            unit="Flat B, 18/F, Block 3", description="Noise upstairs at night", language="en",
        )  # fmt: skip
        # A common area reported by the unit's linked owner belongs to the file too.
        lobby = await open_ticket(
            s, kind="repair", category="lift", now=NOW, actor="customer",
            unit="大堂", details={"unit": {"area": "大堂"}}, contact_id=contact.id,
            description="大堂電梯門關唔埋",
        )  # fmt: skip
        # An anonymous complaint by the owner's chat is not filed under the owner's flat.
        await open_ticket(
            s, kind="complaint", category="staff", now=NOW, actor="customer",
            contact_id=contact.id, anonymous=True, description="Guard asleep",
        )  # fmt: skip
        neighbours = await open_ticket(
            s, kind="repair", category="electrical", now=NOW, actor="customer",
            unit="3座18樓C室", details={"unit": other.parts}, description="C室跳掣",
        )  # fmt: skip
        s.add_all(
            [
                FeeItem(
                    unit_key=flat.key, unit_display=flat.display, period="2026-09",
                    item="management_fee", amount=Decimal("1500"), due_date=date(2026, 9, 30),
                    paid_amount=Decimal("1500"), paid_at=datetime(2026, 9, 20, 12, tzinfo=TZ),
                    created_at=NOW, updated_at=NOW,
                ),
                FeeItem(
                    unit_key=flat.key, unit_display=flat.display, period="2026-10",
                    item="management_fee", amount=Decimal("1500"), due_date=date(2026, 10, 31),
                    paid_amount=Decimal("500"), paid_at=datetime(2026, 10, 25, 12, tzinfo=TZ),
                    created_at=NOW, updated_at=NOW,
                ),
                FeeItem(
                    unit_key=flat.key, unit_display=flat.display, period="2026-11",
                    item="management_fee", amount=Decimal("1500"), due_date=date(2026, 11, 30),
                    created_at=NOW, updated_at=NOW,
                ),
            ]
        )  # fmt: skip
        numbers = {
            "repair": repair.number,
            "complaint": complaint.number,
            "lobby": lobby.number,
            "neighbour": neighbours.number,
        }
    return numbers


async def test_the_file_holds_everything_about_the_unit_and_nothing_else(db: Database) -> None:
    numbers = await _records(db)
    unit = parse_unit_text("3座18楼B室", "zh-Hans")  # another spelling, another script
    async with db.session() as s:
        file = await household_file(s, unit, today=date(2026, 11, 27), fees=FeesSettings())
    assert [r.name for r in file.residents] == ["陳大文", "李小明"]
    got = {t.number for t in file.tickets}
    assert got == {numbers["repair"], numbers["complaint"], numbers["lobby"]}
    assert [t.number for t in file.tickets_of("complaint")] == [numbers["complaint"]]
    assert [(c.channel, c.score, c.by) for c in file.callbacks] == [
        ("chat", 4, "user:1"),
        ("phone", 5, "staff:amy"),
    ]
    assert file.balance is not None
    assert file.balance.outstanding == Decimal("2500.00")
    assert [(p.period, p.paid_amount) for p in file.payments] == [
        ("2026-10", Decimal("500.00")),
        ("2026-09", Decimal("1500.00")),
    ]
    repair = next(t for t in file.tickets if t.number == numbers["repair"])
    assert [e.action for e in file.events[repair.id]] == ["opened", "survey_answered", "callback"]


def _config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "config.yml"
    config.write_text(
        f"database:\n  url: {url}\ndialogues_dir: {ROOT / 'dialogues'}\n", encoding="utf-8"
    )
    return config


async def test_cli_shows_the_file_in_the_offices_language_and_exports_it(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    numbers = await _records(db)
    config = _config(tmp_path, db_url)
    runner = CliRunner()
    xlsx, csv_path = tmp_path / "file.xlsx", tmp_path / "file.csv"

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["household", "show", *args, "--config", str(config)])
        return result.exit_code, result.output

    code, out = await asyncio.to_thread(
        run, "Flat B, 18/F, Block 3", "--xlsx", str(xlsx), "--csv", str(csv_path)
    )
    assert code == 0, out
    # zh-Hant, the office's default language, whatever the unit was typed in.
    for words in (*OFFICE_WORDS, numbers["repair"], numbers["lobby"]):
        assert words in out, (words, out)
    assert numbers["neighbour"] not in out
    assert "9123 4567" not in out and "+85291234567" not in out  # masked
    assert "***4567" in out
    book = load_workbook(xlsx)
    assert book.sheetnames[:3] == ["一戶一檔", "住戶", "工單及投訴"]
    tickets = [[c.value for c in row] for row in book["工單及投訴"].iter_rows()]
    assert tickets[0][:2] == ["編號", "類型"] and len(tickets) == 4
    rows = list(csv.reader(csv_path.open(encoding="utf-8-sig")))
    assert ["住戶"] in rows and any(r[:1] == ["李小明"] for r in rows)

    code, out = await asyncio.to_thread(run, "3座18樓B室", "--lang", "en")
    assert code == 0, out
    assert "== Household file ==" in out and "Owner" in out and "Phone call-back" in out


def test_cli_says_clearly_what_is_wrong(tmp_path: Path, sqlite_url: str) -> None:
    config = _config(tmp_path, sqlite_url)
    runner = CliRunner()
    unreadable = runner.invoke(app, ["household", "show", "somewhere", "--config", str(config)])
    assert unreadable.exit_code == 2 and "cannot read a flat" in unreadable.output
    floor = runner.invoke(app, ["household", "show", "3座18樓", "--config", str(config)])
    assert floor.exit_code == 2 and "cannot read a flat" in floor.output
    unknown = runner.invoke(app, ["household", "show", "9座1樓Z室", "--config", str(config)])
    assert unknown.exit_code == 1 and "nothing is on record" in unknown.output
    bad_lang = runner.invoke(app, ["household", "show", "3座18樓B室", "--lang", "fr"])
    assert bad_lang.exit_code == 2 and "--lang" in bad_lang.output


async def test_the_agents_card_gets_a_brief_of_the_tickets_household(db: Database) -> None:
    numbers = await _records(db)
    texts = ResponseTexts(Settings(dialogues_dir=ROOT / "dialogues"), "zh-Hant")
    async with db.session() as s:
        ticket = (
            await s.execute(select(Ticket).where(Ticket.number == numbers["complaint"]))
        ).scalar_one()
        file = await household_for_ticket(s, ticket, today=date(2026, 11, 27), fees=FeesSettings())
        lobby = (
            await s.execute(select(Ticket).where(Ticket.number == numbers["lobby"]))
        ).scalar_one()
        assert (
            await household_for_ticket(s, lobby, today=date(2026, 11, 27), fees=FeesSettings())
            is None
        )
    assert file is not None
    brief = render_brief(file, texts)
    assert "18樓B室" in brief and "住戶人數: 2" in brief and "欠費總額: HKD 2,500.00" in brief
