"""`kefu fees confirm|arrears|collection|arrange` and `kefu evaluation start|status|summary`
against a real SQLite database: output, XLSX exports and one-line errors."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.evaluation.cli import evaluation_app
from bot.fees.cli import add_fee_commands
from bot.store.db import Database
from bot.store.models import Conversation
from bot.tickets.service import open_ticket
from tests.fees.support import fee, household

HK = "Asia/Hong_Kong"


async def _seed(url: str) -> str:
    from zoneinfo import ZoneInfo

    db = Database(url)
    now = datetime.now(ZoneInfo(HK))
    try:
        async with db.write() as s:
            owes, chat = await household(s, "1座101室", now=now, phone="+85295000001", chat_id="x")
            paid, _ = await household(s, "2座101室", now=now, phone="+85295000002", chat_id=None)
            late = (now - timedelta(days=40)).date()
            await fee(s, owes, "2026-10", "management", "1000", late, now=now)
            await fee(s, paid, "2026-10", "management", "1000", late, now=now, paid="1000")
            conversation = await s.get_one(Conversation, chat)
            ticket = await open_ticket(
                s,
                kind="payment",
                category="payment_proof",
                now=now,
                actor="customer",
                contact_id=conversation.contact_id,
                conversation_id=chat,
                details={"amount": "400"},
            )
            return ticket.number
    finally:
        await db.dispose()


def test_fee_and_evaluation_commands(tmp_path: Path, sqlite_url: str) -> None:
    number = asyncio.run(_seed(sqlite_url))
    config = tmp_path / "config.yml"
    config.write_text(f"database:\n  url: {sqlite_url}\n", encoding="utf-8")
    fees = typer.Typer()
    add_fee_commands(fees)
    runner = CliRunner()
    cfg = ["--config", str(config)]

    result = runner.invoke(fees, ["arrears", "--xlsx", str(tmp_path / "a.xlsx"), *cfg])
    assert result.exit_code == 0, result.output
    assert "1 units owe HKD 1000.00" in result.output and "phone" not in result.output
    sheet = load_workbook(tmp_path / "a.xlsx")["arrears"]
    assert [c.value for c in sheet[1]][:3] == ["unit", "building", "outstanding"]
    assert sheet.max_row == 2

    result = runner.invoke(fees, ["collection", "--xlsx", str(tmp_path / "c.xlsx"), *cfg])
    assert result.exit_code == 0, result.output
    assert "2026-10\t1\t1\t1000.00\t0.00\t0.0%" in result.output
    assert "2026-10\t2\t1\t1000.00\t1000.00\t100.0%" in result.output
    assert "2026-10\t*\t2\t2000.00\t1000.00\t50.0%" in result.output
    assert load_workbook(tmp_path / "c.xlsx")["collection"].max_row == 4

    result = runner.invoke(fees, ["confirm", "P-20200101-0001", *cfg])
    assert result.exit_code == 1 and "no ticket P-20200101-0001" in result.output
    result = runner.invoke(fees, ["confirm", number, "--by", "amy", *cfg])
    assert result.exit_code == 0, result.output
    assert "2026-10 management: paid 400.00" in result.output
    assert "still owed 600.00; resident thanked" in result.output
    result = runner.invoke(fees, ["confirm", number, *cfg])
    assert result.exit_code == 1 and "confirmed already" in result.output

    result = runner.invoke(fees, ["arrange", "1座101室", "--until", "2099-01-01", *cfg])
    assert result.exit_code == 0 and "arranged" in result.output
    result = runner.invoke(fees, ["arrears", "--json", *cfg])
    assert '"stopped": "arrangement"' in result.output
    result = runner.invoke(fees, ["arrange", "nowhere at all", *cfg])
    assert result.exit_code == 1 and "cannot read the unit" in result.output

    result = runner.invoke(evaluation_app, ["status", "1999Q5", *cfg])
    assert result.exit_code == 1 and "not a quarter" in result.output
    result = runner.invoke(evaluation_app, ["status", *cfg])
    assert result.exit_code == 1 and "no evaluation campaign" in result.output
    result = runner.invoke(evaluation_app, ["start", "--seed", "5", *cfg])
    assert result.exit_code == 0 and "(seed 5)" in result.output, result.output
    result = runner.invoke(evaluation_app, ["status", *cfg])
    assert result.exit_code == 0, result.output
    assert "2 of 2 households sampled (1 by chat, 1 by phone); 0 answered (0.0%)" in result.output
    result = runner.invoke(evaluation_app, ["summary", "--xlsx", str(tmp_path / "e.xlsx"), *cfg])
    assert result.exit_code == 0 and "response rate 0.0%" in result.output
    assert load_workbook(tmp_path / "e.xlsx").sheetnames == [
        "areas",
        "buildings",
        "comments",
        "missing",
    ]
