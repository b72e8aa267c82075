"""Facts from one place: the office's hours, holiday opening and hotline come from config.yml.

A changed config changes what Kefu answers (through the real engine and NLU) and what the SLA
calendar counts, and the FAQ's holiday opening is the calendar's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.app import build_app
from bot.clock import FrozenClock
from bot.config import Settings, load_settings
from bot.sla.calendar import build_calendars
from tests.records.chat import Chat

ROOT = Path(__file__).resolve().parent.parent.parent
TZ = ZoneInfo("Asia/Hong_Kong")
CHRISTMAS = date(2026, 12, 25)  # a Friday and a Hong Kong public holiday
HOLIDAY_QUESTION = "what are the office hours over the public holidays"


def _settings(tmp_path: Path, db_url: str, change: dict[str, Any] | None = None) -> Settings:
    """The repository's config.yml with ``change`` applied to its office calendar/office keys."""
    data = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for key, value in (change or {}).items():
        section, _, name = key.partition(".")
        target = data[section]["office"] if section == "calendars" else data[section]
        target[name] = value
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(
        config,
        environ={},
        database={"url": db_url},
        var_dir=str(tmp_path / "var"),
        dialogues_dir=str(ROOT / "dialogues"),
        models_dir=str(ROOT / "models"),
    )


async def _ask(settings: Settings, interpreter: Any, user: str, text: str) -> str:
    clock = FrozenClock(datetime(2026, 12, 2, 10, 0, tzinfo=TZ))
    app = build_app(settings, clock=clock, interpreter=interpreter)
    try:
        return await Chat(app, user).say(text)
    finally:
        await app.close()


async def test_default_hours_are_the_calendars(
    tmp_path: Path, db_url: str, shared_interpreter: Any
) -> None:
    settings = _settings(tmp_path, db_url)
    calendar = build_calendars(settings)["office"]
    zh = await _ask(settings, shared_interpreter, "facts-zh", "管理處幾點上班")
    assert "週一至週五 08:30–18:00" in zh and "週六至週日 09:00–17:00" in zh, zh
    # The calendar closes on public holidays, and so does the answer.
    assert calendar.hours_on(CHRISTMAS) == []
    assert "公眾假期管理處休息" in zh, zh
    en = await _ask(settings, shared_interpreter, "facts-en", HOLIDAY_QUESTION)
    assert "The office is closed on public holidays" in en, en
    assert "09:00–17:00" not in en.split("\n")[0], en
    # No hotline configured: the answer points to the notice board instead of a made-up number.
    contact = await _ask(settings, shared_interpreter, "facts-hk", "管理處電話幾多號")
    assert "大堂告示板" in contact, contact


async def test_changed_hours_change_answer_and_sla_alike(
    tmp_path: Path, db_url: str, shared_interpreter: Any
) -> None:
    settings = _settings(
        tmp_path,
        db_url,
        {
            "calendars.hours": {"mon-fri": ["09:00-19:30"], "sat": ["10:00-13:00"]},
            "calendars.holiday_hours": ["10:00-16:00"],
            "office.hotline": "2123 4567",
            "office.emergency_hotline": "2765 4321",
        },
    )
    calendar = build_calendars(settings)["office"]
    zh = await _ask(settings, shared_interpreter, "facts2-zh", "管理處幾點上班")
    assert "週一至週五 09:00–19:30" in zh, zh
    assert "週六 10:00–13:00" in zh and "週日 休息" in zh, zh
    assert "公眾假期管理處辦公時間 10:00–16:00" in zh, zh
    assert "2765 4321" in zh, zh
    assert "08:30" not in zh, zh
    # The SLA calendar counts exactly those hours: open on Christmas 10:00-16:00, shut Sunday.
    assert calendar.hours_on(CHRISTMAS) == [(600, 960)]
    assert calendar.is_open(datetime(2026, 12, 25, 15, 0, tzinfo=TZ))
    assert not calendar.is_open(datetime(2026, 12, 27, 11, 0, tzinfo=TZ))
    two_hours = calendar.add(datetime(2026, 12, 25, 15, 0, tzinfo=TZ), timedelta(hours=2))
    assert two_hours == datetime(2026, 12, 26, 11, 0, tzinfo=TZ)  # 1 h Fri + 1 h Sat
    hans = await _ask(settings, shared_interpreter, "facts2-hans", "物业电话是多少")
    assert "2123 4567" in hans, hans
    en = await _ask(settings, shared_interpreter, "facts2-en", HOLIDAY_QUESTION)
    assert "On public holidays the office is open 10:00–16:00" in en, en


def test_bad_holiday_hours_and_unknown_office_calendar_are_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="holiday_hours"):
        Settings.model_validate(
            {"calendars": {"office": {"hours": {"mon": ["09:00-17:00"]}, "holiday_hours": ["9"]}}}
        )
    with pytest.raises(Exception, match=r"office\.calendar"):
        Settings.model_validate({"office": {"calendar": "reception"}})
