"""Imports: every bad row reported by line, all-or-nothing, idempotent, CSV and XLSX."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import FrozenClock
from bot.config import Settings
from bot.records.importing import import_file
from bot.records.models import ContactResident, FeeItem, Order, Resident
from bot.records.units import read_unit
from bot.store.db import Database

RESIDENTS = """
unit,name,phone,role,move_in
3棟2單元1502室,陳大文,9123 4567,owner,2020-05-01
3栋2单元1502,陳太,+852 6123 4567,tenant,
Block 5 Unit 1 Rm 801,Alice Wong,51234567,業主,2024/01/15
"""

ORDERS = """
order_id,phone,email,items,status,carrier,tracking_number,updated_at,eta
SO88412,91234567,,Rice cooker x1,shipped,SF Express,SF1234567890,2026-11-25 14:30,2026-11-28
#so88413,,amy@example.com,Kettle,In transit,Kerry,KE99,2026-11-26T09:00:00+08:00,
DD20261118001,+8613812345678,BOB@EXAMPLE.COM,Phone case x2,delivered,,,,
"""

FEES = """
unit,period,item,amount,due_date,paid_amount,paid_at
3棟2單元1502室,2026-09,management fee,"1,500.00",2026-09-30,,
3棟2單元1502室,2026-10,管理費,1500,2026-10-31,500,2026-10-20 10:00
3棟2單元1502室,2026/11,parking,800,2026-11-30,800,2026-11-02
"""


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_residents_import_and_reimport_changes_nothing(
    db: Database, settings: Settings, clock: FrozenClock, write_csv: Callable[[str, str], Path]
) -> None:
    path = write_csv("residents.csv", RESIDENTS)
    async with db.write() as s:
        result = await import_file(s, "residents", path, settings, clock.now())
    assert result.ok, result.errors
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    async with db.session() as s:
        rows = (await s.scalars(select(Resident).order_by(Resident.id))).all()
        stamps = [r.updated_at for r in rows]
    assert [r.phone for r in rows] == ["+85291234567", "+85261234567", "+85251234567"]
    assert rows[0].unit_key == rows[1].unit_key  # 「3棟2單元1502室」 == 「3栋2单元1502」
    assert rows[2].role == "owner"
    assert rows[2].move_in == date(2024, 1, 15)

    clock.advance(hours=1)
    async with db.write() as s:
        again = await import_file(s, "residents", path, settings, clock.now())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    async with db.session() as s:
        assert await count(s, Resident) == 3
        assert [
            r.updated_at for r in (await s.scalars(select(Resident).order_by(Resident.id)))
        ] == stamps


async def test_unit_spellings_are_one_unit(settings: Settings) -> None:
    keys = {
        u.key
        for text in ("3棟2單元1502室", "3栋2单元1502", "Block 3 Unit 2 Rm 1502")
        if (u := read_unit(text, "en")) is not None
    }
    assert len(keys) == 1


async def test_bad_rows_reported_with_line_numbers_and_nothing_imported(
    db: Database, settings: Settings, clock: FrozenClock, write_csv: Callable[[str, str], Path]
) -> None:
    path = write_csv(
        "residents.csv",
        """
unit,name,phone,role,move_in
3棟2單元1502室,陳大文,91234567,owner,2020-05-01
not a unit,Nobody,91234568,owner,
5棟1單元801室,,12345,landlord,yesterday

3棟2單元1502室,Again,9123-4567,tenant,
""",
    )
    async with db.write() as s:
        result = await import_file(s, "residents", path, settings, clock.now())
    assert not result.ok
    messages = [str(e) for e in result.errors]
    assert any(m.startswith("line 3: unit:") for m in messages), messages
    assert "line 4: name: is empty" in messages
    assert any(m.startswith("line 4: phone:") and "12345" in m for m in messages)
    assert any(m.startswith("line 4: role:") and "landlord" in m for m in messages)
    assert any(m.startswith("line 4: move_in:") for m in messages)
    assert "line 6: duplicate of line 2" in messages  # blank line 5 skipped, numbering kept
    async with db.session() as s:
        assert await count(s, Resident) == 0


async def test_missing_header_column(
    db: Database, settings: Settings, clock: FrozenClock, write_csv: Callable[[str, str], Path]
) -> None:
    path = write_csv("orders.csv", "order_id,phone,items,status\nSO1,91234567,x,shipped\n")
    async with db.write() as s:
        result = await import_file(s, "orders", path, settings, clock.now())
    assert str(result.errors[0]).startswith("line 1: header: missing column(s)")
    assert "email" in str(result.errors[0])


async def test_orders_import_normalises_and_needs_phone_or_email(
    db: Database, settings: Settings, clock: FrozenClock, write_csv: Callable[[str, str], Path]
) -> None:
    path = write_csv("orders.csv", ORDERS)
    async with db.write() as s:
        result = await import_file(s, "orders", path, settings, clock.now())
    assert result.ok, result.errors
    async with db.session() as s:
        orders = {o.order_id: o for o in (await s.scalars(select(Order))).all()}
    assert set(orders) == {"SO88412", "SO88413", "DD20261118001"}
    assert orders["SO88413"].status == "in_transit"
    assert orders["SO88413"].email == "amy@example.com"
    assert orders["DD20261118001"].email == "bob@example.com"
    assert orders["SO88412"].eta == date(2026, 11, 28)
    updated = orders["SO88412"].updated_at
    assert updated is not None and updated.utcoffset() is not None
    assert updated.isoformat() == "2026-11-25T06:30:00+00:00"  # 14:30 Hong Kong

    bad = write_csv(
        "bad.csv",
        ORDERS.strip() + "\nSO1,,,Mug,shipped,,,,\nSO2,91234567,,Mug,teleported,,,,\n",
    )
    async with db.write() as s:
        result = await import_file(s, "orders", bad, settings, clock.now())
    messages = [str(e) for e in result.errors]
    assert "line 5: phone, email: give at least one" in messages
    assert any(m.startswith("line 6: status:") for m in messages)


async def test_fees_import_xlsx_idempotent(
    db: Database, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["unit", "period", "item", "amount", "due_date", "paid_amount", "paid_at"])
    ws.append(["3棟2單元1502室", "2026-09", "management fee", 1500, date(2026, 9, 30), None, None])
    ws.append(["3栋2单元1502", "2026-10", "水費", 123.4, "2026-10-31", 0, None])
    ws.append(
        [
            "Block 3 Unit 2 Rm 1502",
            "2026-10",
            "parking",
            "800",
            date(2026, 10, 31),
            800,
            "2026-10-05 09:00",
        ]
    )
    path = tmp_path / "fees.xlsx"
    wb.save(path)
    async with db.write() as s:
        first = await import_file(s, "fees", path, settings, clock.now())
    assert first.ok, first.errors
    assert first.created == 3
    async with db.write() as s:
        second = await import_file(s, "fees", path, settings, clock.now())
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    async with db.session() as s:
        items = {f.item: f for f in (await s.scalars(select(FeeItem))).all()}
    assert set(items) == {"management_fee", "water", "parking"}
    assert items["water"].amount == Decimal("123.40")
    assert len({f.unit_key for f in items.values()}) == 1


async def test_xlsx_bad_row_line_number(
    db: Database, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["unit", "period", "item", "amount", "due_date", "paid_amount", "paid_at"])
    ws.append(["3棟2單元1502室", "2026-09", "management fee", 1500, date(2026, 9, 30), None, None])
    ws.append(["3棟2單元1502室", "2026-10", "management fee", -5, date(2026, 10, 31), None, None])
    path = tmp_path / "fees.xlsx"
    wb.save(path)
    async with db.write() as s:
        result = await import_file(s, "fees", path, settings, clock.now())
    assert [str(e) for e in result.errors] == ["line 3: amount: '-5' is not a non-negative amount"]
    async with db.session() as s:
        assert await count(s, FeeItem) == 0


async def test_fee_update_changes_only_that_row(
    db: Database, settings: Settings, clock: FrozenClock, write_csv: Callable[[str, str], Path]
) -> None:
    async with db.write() as s:
        await import_file(s, "fees", write_csv("f1.csv", FEES), settings, clock.now())
    paid = FEES.replace(
        '2026-09,management fee,"1,500.00",2026-09-30,,',
        '2026-09,management fee,"1,500.00",2026-09-30,1500,2026-11-26',
    )
    async with db.write() as s:
        result = await import_file(s, "fees", write_csv("f2.csv", paid), settings, clock.now())
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)


async def test_overpaid_and_unreadable_files(
    db: Database,
    settings: Settings,
    clock: FrozenClock,
    write_csv: Callable[[str, str], Path],
    tmp_path: Path,
) -> None:
    path = write_csv("f.csv", FEES.strip() + "\n3棟2單元1502室,2026-12,water,10,2026-12-31,20,\n")
    async with db.write() as s:
        result = await import_file(s, "fees", path, settings, clock.now())
    assert [str(e) for e in result.errors] == [
        "line 5: paid_amount: 20.00 is more than amount 10.00"
    ]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"unit,name\n" + "caf\xe9".encode("latin-1"))
    async with db.write() as s:
        result = await import_file(s, "residents", latin, settings, clock.now())
    assert "not UTF-8" in str(result.errors[0])
    async with db.write() as s:
        result = await import_file(s, "residents", tmp_path / "x.pdf", settings, clock.now())
    assert "unsupported file type" in str(result.errors[0])


async def test_registered_later_links_contacts_that_already_shared_phone(
    db: Database, settings: Settings, clock: FrozenClock, write_csv: Callable[[str, str], Path]
) -> None:
    from bot.store.models import Contact

    async with db.write() as s:
        now = clock.now()
        s.add(Contact(phone="+85291234567", phone_verified=True, created_at=now, updated_at=now))
        s.add(Contact(phone="+85261234567", phone_verified=False, created_at=now, updated_at=now))
    async with db.write() as s:
        await import_file(s, "residents", write_csv("r.csv", RESIDENTS), settings, clock.now())
    async with db.session() as s:
        links = (await s.scalars(select(ContactResident))).all()
    assert len(links) == 1  # only the verified phone links


def test_cli_import_exit_codes_and_messages(
    tmp_path: Path, write_csv: Callable[[str, str], Path], sqlite_url: str
) -> None:
    from typer.testing import CliRunner

    from bot.records.cli import records_app

    config = tmp_path / "config.yml"
    config.write_text(f"database:\n  url: {sqlite_url}\n", encoding="utf-8")  # migrated copy
    runner = CliRunner()
    good = write_csv("good.csv", RESIDENTS)
    bad = write_csv("bad.csv", RESIDENTS.rstrip() + "\n3棟2單元1502室,Someone,123,owner,\n")

    result = runner.invoke(records_app, ["residents", "import", str(bad), "--config", str(config)])
    assert result.exit_code == 1
    assert "bad.csv: line 5: phone: '123' is not a valid phone number" in result.output
    assert "nothing was imported" in result.output

    args = ["residents", "import", str(good), "--config", str(config)]
    result = runner.invoke(records_app, [*args, "--dry-run"])
    assert result.exit_code == 0 and "dry run" in result.output and "3 new" in result.output
    result = runner.invoke(records_app, args)
    assert result.exit_code == 0 and "3 new" in result.output, result.output
    result = runner.invoke(records_app, args)
    assert "0 new, 0 updated, 3 unchanged" in result.output

    broken = tmp_path / "broken.yml"
    broken.write_text("orders: {lockout: soon}\n", encoding="utf-8")
    result = runner.invoke(records_app, ["orders", "import", str(good), "--config", str(broken)])
    assert result.exit_code == 2 and "orders.lockout" in result.output


async def test_values_beyond_the_columns_are_line_numbered_errors_on_every_database(
    db: Database, settings: Settings, clock: FrozenClock, write_csv: Callable[[str, str], Path]
) -> None:
    """SQLite stored these and PostgreSQL failed with a 70-180-line traceback: both must give
    the same line-numbered errors before anything is written."""
    residents = write_csv(
        "residents.csv",
        "unit,name,phone,role,move_in\n"
        "3棟2單元1502室,陳\x00大文,91234567,owner,\n"
        "3棟2單元1503室,Alice,61234567,owner,\n",
    )
    fees = write_csv(
        "fees.csv",
        "unit,period,item,amount,due_date,paid_amount,paid_at\n"
        "3棟2單元1502室,2026-09,management fee,1e30,2026-09-30,,\n"
        "3棟2單元1502室,2026-10,management fee,12345678901.00,2026-10-31,,\n"
        "3棟2單元1502室,2026-11,management fee,1500,2026-11-30,99999999999,\n"
        "3棟2單元1502室,2026-12,management fee,9999999999.99,2026-12-31,,\n"
        "3棟2單元1502室,2027-01,water\x00,10,2027-01-31,,\n",
    )
    async with db.write() as s:
        people = await import_file(s, "residents", residents, settings, clock.now())
        money = await import_file(s, "fees", fees, settings, clock.now())
    assert [str(e) for e in people.errors] == ["line 2: name: contains a NUL character (\\x00)"]
    assert [str(e) for e in money.errors] == [
        "line 2: amount: '1e30' is not an amount",
        "line 3: amount: 12345678901.00 is more than the largest amount allowed (9999999999.99)",
        "line 4: paid_amount: 99999999999.00 is more than amount 1500.00",
        "line 6: item: contains a NUL character (\\x00)",
    ]
    async with db.session() as s:
        assert await count(s, Resident) == 0 and await count(s, FeeItem) == 0


def test_cli_prints_at_most_50_errors_then_a_count(
    tmp_path: Path, write_csv: Callable[[str, str], Path]
) -> None:
    from typer.testing import CliRunner

    from bot.records.cli import records_app

    config = tmp_path / "config.yml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'cli.db'}\n", encoding="utf-8")
    rows = "".join(f"3棟2單元{1000 + n}室,Someone,123,owner,\n" for n in range(120))
    bad = write_csv("many.csv", "unit,name,phone,role,move_in\n" + rows)
    result = CliRunner().invoke(
        records_app, ["residents", "import", str(bad), "--config", str(config)]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert sum(": phone: '123' is not a valid phone number" in line for line in lines) == 50
    assert "many.csv: line 51: phone:" in result.output
    assert "many.csv: line 52:" not in result.output
    assert "and 70 more problem(s)" in result.output
    assert "120 problem(s); nothing was imported" in result.output
