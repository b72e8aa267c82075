"""Times as people say them for a visit (issue 13 item 10): a day or a part of a day is a window
that is still ahead (never today 00:00), yesterday is yesterday, "asap" and "any time" are the
form's own answers, and a question holds no time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.actions.visits import looks_like_question, parse_visit, visit_value
from bot.nlu.entities import extract_entities
from bot.nlu.windows import ceil_quarter

TZ = ZoneInfo("Asia/Hong_Kong")
FRIDAY_10 = datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
FRIDAY_1007 = datetime(2026, 11, 27, 10, 7, tzinfo=TZ)
FRIDAY_19 = datetime(2026, 11, 27, 19, 0, tzinfo=TZ)
SUNDAY_19 = datetime(2026, 11, 29, 19, 0, tzinfo=TZ)


def when(text: str, now: datetime) -> tuple[str, str | None, str]:
    """(start HH:MM on MM-DD, end, grain) of the one datetime entity in ``text``."""
    found = [e for e in extract_entities(text, now=now) if e["entity"] == "datetime"]
    assert len(found) == 1, (text, found)
    entity: dict[str, Any] = found[0]
    end = entity.get("to")
    return entity["value"][5:16], end[5:16] if end else None, entity["grain"]


@pytest.mark.parametrize(
    ("text", "now", "start", "end", "grain"),
    [
        # "today" is the rest of today's visiting hours, from now (rounded up), not 00:00
        ("today", FRIDAY_1007, "11-27T10:15", "11-27T18:00", "day"),
        ("今日", FRIDAY_10, "11-27T10:00", "11-27T18:00", "day"),
        ("今天可以吗", FRIDAY_10, "11-27T10:00", "11-27T18:00", "day"),
        # after the working day, "today" is still later today
        ("今日得唔得", FRIDAY_19, "11-27T19:00", "11-27T22:00", "day"),
        # a weekend is Saturday morning to Sunday evening; on Sunday evening the next one
        ("weekend", FRIDAY_10, "11-28T09:00", "11-29T18:00", "weekend"),
        ("週末", FRIDAY_10, "11-28T09:00", "11-29T18:00", "weekend"),
        ("周末来吧", FRIDAY_10, "11-28T09:00", "11-29T18:00", "weekend"),
        ("weekend", SUNDAY_19, "12-05T09:00", "12-06T18:00", "weekend"),
        # Cantonese yesterday
        ("琴日", FRIDAY_10, "11-26T09:00", "11-26T18:00", "day"),
        ("尋日", FRIDAY_10, "11-26T09:00", "11-26T18:00", "day"),
        ("琴晚", FRIDAY_10, "11-26T19:00", "11-26T22:00", "part_of_day"),
        # parts of the day
        ("夜晚", FRIDAY_10, "11-27T19:00", "11-27T23:00", "part_of_day"),
        ("今晚", FRIDAY_10, "11-27T19:00", "11-27T22:00", "part_of_day"),
        ("tonight", FRIDAY_10, "11-27T19:00", "11-27T22:00", "part_of_day"),
        ("今朝", FRIDAY_1007, "11-27T10:15", "11-27T12:00", "part_of_day"),
        ("朝早", FRIDAY_10, "11-27T10:00", "11-27T12:00", "part_of_day"),
        ("朝早", FRIDAY_19, "11-28T09:00", "11-28T12:00", "part_of_day"),
        ("下晝", FRIDAY_10, "11-27T14:00", "11-27T18:00", "part_of_day"),
        ("this afternoon", FRIDAY_10, "11-27T14:00", "11-27T18:00", "part_of_day"),
        ("聽日下晝", FRIDAY_10, "11-28T14:00", "11-28T18:00", "part_of_day"),
        # a clock time stays an instant
        ("今晚8點", FRIDAY_10, "11-27T20:00", None, "hour"),
    ],
)
def test_days_and_parts_of_days_are_windows_still_ahead(
    text: str, now: datetime, start: str, end: str | None, grain: str
) -> None:
    assert when(text, now) == (start, end, grain)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("越快越好", "asap"),
        ("冷氣壞咗 越快越好", "asap"),
        ("尽快", "asap"),
        ("ASAP please", "asap"),
        ("as soon as possible", "asap"),
        ("any time is fine", "anytime"),
        ("幾時都得", "anytime"),
        ("任何時間都可以", "anytime"),
    ],
)
def test_asap_and_any_time_are_the_forms_answers(text: str, value: str) -> None:
    found = [e for e in extract_entities(text, now=FRIDAY_10) if e["entity"] == "visit_time"]
    assert [e["value"] for e in found] == [value]


@pytest.mark.parametrize(
    "text", ["how much does it cost?", "要幾多錢", "收費點計？", "多少钱", "Is it free"]
)
def test_a_question_holds_no_time(text: str) -> None:
    assert parse_visit(text, FRIDAY_10) is None
    assert not [e for e in extract_entities(text, now=FRIDAY_10) if e["entity"] == "datetime"]
    assert looks_like_question(text)


@pytest.mark.parametrize("text", ["after work on weekdays", "放工之後", "下班后"])
def test_words_that_are_not_questions(text: str) -> None:
    assert not looks_like_question(text)


def test_visit_values() -> None:
    today = parse_visit("今日", FRIDAY_10)
    assert today is not None
    assert visit_value(*today, FRIDAY_10) == "2026-11-27T10:00:00+08:00/2026-11-27T18:00:00+08:00"
    # yesterday, and this morning at 8 when it is 10, have passed
    yesterday = parse_visit("琴日", FRIDAY_10)
    assert yesterday is not None and visit_value(*yesterday, FRIDAY_10) is None
    eight = parse_visit("今日朝早八點", FRIDAY_10)
    assert eight is not None and visit_value(*eight, FRIDAY_10) is None
    # an interval kept in the slot reads back; its start moves on with the clock
    later = datetime(2026, 11, 27, 11, 5, tzinfo=TZ)
    stored = "2026-11-27T10:00:00+08:00/2026-11-27T18:00:00+08:00"
    assert visit_value(*parse_visit(stored, later) or (later, None), later) == (
        "2026-11-27T11:15:00+08:00/2026-11-27T18:00:00+08:00"
    )


def test_ceil_quarter() -> None:
    assert ceil_quarter(FRIDAY_10) == FRIDAY_10
    assert ceil_quarter(FRIDAY_1007).minute == 15
    assert ceil_quarter(datetime(2026, 11, 27, 10, 45, 1, tzinfo=TZ)).hour == 11


@pytest.mark.parametrize(
    ("text", "payload", "finer"),
    [
        ("今日下晝", '/inform{"visit_time":"today"}', True),
        ("星期六上午十點", '/inform{"visit_time":"weekend"}', True),
        ("今日", '/inform{"visit_time":"today"}', False),
        ("明天上午", '/inform{"visit_time":"tomorrow_am"}', False),
        ("週末", '/inform{"visit_time":"weekend"}', False),
        ("今日下晝", '/inform{"anonymous":true}', False),
    ],
)
def test_a_typed_time_finer_than_its_button_keeps_its_time(
    text: str, payload: str, finer: bool
) -> None:
    from bot.actions.visits import finer_than_button

    assert finer_than_button(payload, extract_entities(text, now=FRIDAY_10)) is finer
