"""The choice resolver: a typed answer to a button question presses the button it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.dialogue.choices import ChoiceResolver
from bot.dialogue.domain import load_domain
from bot.dialogue.responses import Responses

ROOT = Path(__file__).resolve().parents[2]
DIALOGUES = ROOT / "dialogues"


@pytest.fixture(scope="module")
def resolver() -> ChoiceResolver:
    domain = load_domain(DIALOGUES)
    return ChoiceResolver.load(
        DIALOGUES, Responses(domain.responses, "zh-Hant"), list(domain.responses)
    )


ANON = '/inform{"anonymous":%s}'
FIXED = '/inform{"survey_fixed":%s}'
SCORE = '/inform{"survey_score":%d}'
VISIT = '/inform{"visit_time":"%s"}'


@pytest.mark.parametrize(
    ("question", "typed", "pressed"),
    [
        # anonymity, in three languages, labels, synonyms, negations, numbers, yes/no
        ("utter_ask_anonymous", "不用匿名", ANON % "false"),
        ("utter_ask_anonymous", "唔使匿名", ANON % "false"),
        ("utter_ask_anonymous", "唔使匿名啦", ANON % "false"),
        ("utter_ask_anonymous", "Use my name", ANON % "false"),
        ("utter_ask_anonymous", "no need to be anonymous", ANON % "false"),
        ("utter_ask_anonymous", "don't stay anonymous", ANON % "false"),
        ("utter_ask_anonymous", "可以用我個名", ANON % "false"),
        ("utter_ask_anonymous", "匿名", ANON % "true"),
        ("utter_ask_anonymous", "我想匿名", ANON % "true"),
        ("utter_ask_anonymous", "Stay anonymous please", ANON % "true"),
        ("utter_ask_anonymous", "yes", ANON % "true"),
        ("utter_ask_anonymous", "係", ANON % "true"),
        ("utter_ask_anonymous", "no", ANON % "false"),
        ("utter_ask_anonymous", "1", ANON % "true"),
        ("utter_ask_anonymous", "２", ANON % "false"),  # a full-width digit
        # the survey: "fixed?" and the rating (a digit is the score)
        ("utter_ask_survey_fixed", "未解決", FIXED % "false"),
        ("utter_ask_survey_fixed", "未解决", FIXED % "false"),
        ("utter_ask_survey_fixed", "仲未搞掂", FIXED % "false"),
        ("utter_ask_survey_fixed", "still leaking", FIXED % "false"),
        ("utter_ask_survey_fixed", "No, not fixed", FIXED % "false"),
        ("utter_ask_survey_fixed", "解決咗", FIXED % "true"),
        ("utter_ask_survey_fixed", "fixed", FIXED % "true"),
        ("utter_ask_survey_score", "5", SCORE % 5),
        ("utter_ask_survey_score", "1", SCORE % 1),
        ("utter_ask_survey_score", "5分", SCORE % 5),
        ("utter_ask_survey_score", "非常滿意", SCORE % 5),
        ("utter_ask_survey_score", "滿意", SCORE % 4),
        ("utter_ask_survey_score", "不滿意", SCORE % 2),
        ("utter_ask_survey_score", "非常不滿意", SCORE % 1),
        ("utter_ask_survey_score", "so so", SCORE % 3),
        ("utter_survey_reminder", "5", SCORE % 5),
        # visit times and summaries
        ("utter_ask_visit_time", "越快越好", VISIT % "asap"),
        ("utter_ask_visit_time", "tomorrow morning please", VISIT % "tomorrow_am"),
        ("utter_ask_visit_time", "唔使今日 聽日朝早啦", VISIT % "tomorrow_am"),
        ("utter_repair_summary", "確認提交", "/affirm"),
        ("utter_repair_summary", "确认提交", "/affirm"),
        ("utter_repair_summary", "Confirm", "/affirm"),
        ("utter_repair_summary", "冇問題", "/affirm"),
        ("utter_repair_summary", "yes", "/affirm"),
        ("utter_repair_summary", "需要修改", "/deny"),
        ("utter_repair_summary", "no", "/deny"),
        ("utter_repair_summary", "取消", "/cancel"),
        ("utter_ask_repair_change", "上門時間", '/change{"slot":"visit_time"}'),
        ("utter_ask_repair_change", "phone", '/change{"slot":"phone"}'),
        ("utter_ask_repair_category", "冷氣", '/inform{"repair_category":"appliance"}'),
        ("utter_ask_repair_category", "lift", '/inform{"repair_category":"lift"}'),
        ("utter_ask_complaint_category", "停車", '/inform{"complaint_category":"parking"}'),
        ("utter_ask_survey_comment", "冇", '/inform{"survey_comment":"-"}'),
    ],
)
def test_typed_answers_press_the_button_they_name(
    resolver: ChoiceResolver, question: str, typed: str, pressed: str
) -> None:
    resolution = resolver.resolve(question, typed)
    assert resolution is not None and resolution.payload == pressed, resolution


@pytest.mark.parametrize(
    ("question", "typed"),
    [
        ("utter_ask_visit_time", "聽日下晝三點"),  # a time the NLU reads more precisely
        ("utter_ask_repair_category", "廚房個水龍頭一直滴水"),  # a description, kept as words
        ("utter_ask_survey_comment", "師傅好準時"),
        ("utter_ask_anonymous", "樓上好嘈"),
        ("utter_ask_anonymous", "7"),  # no such button
    ],
)
def test_messages_that_name_no_button_are_left_to_the_nlu(
    resolver: ChoiceResolver, question: str, typed: str
) -> None:
    assert resolver.resolve(question, typed) is None


def test_a_refused_button_is_no_answer_and_another_questions_title_is_not_one(
    resolver: ChoiceResolver,
) -> None:
    refused = resolver.resolve("utter_repair_summary", "唔好取消")
    assert refused is not None and refused.payload is None and refused.refused
    elsewhere = resolver.resolve("utter_ask_visit_time", "確認提交")
    assert elsewhere is not None and elsewhere.payload is None and elsewhere.elsewhere


def test_rating_buttons_are_numbered_as_their_scores() -> None:
    """Button n is score n in every rating question and language, so a typed digit (terminal
    numbering, or the score itself) means the same."""
    domain = load_domain(DIALOGUES)
    for name, variations in domain.responses.items():
        for variation in variations:
            payloads = [b["payload"] for b in variation.get("buttons") or []]
            if any("survey_score" in p for p in payloads):
                assert payloads == [SCORE % n for n in range(1, 6)], name


def _payloads(variation: dict[str, Any]) -> list[str]:
    return [b["payload"] for b in variation.get("buttons") or []]


def test_a_reask_shows_the_questions_buttons_again() -> None:
    domain = load_domain(DIALOGUES)
    checked = 0
    for form, spec in domain.forms.items():
        for slot in spec.get("required_slots", []):
            ask = domain.responses.get(f"utter_ask_{form}_{slot}") or domain.responses.get(
                f"utter_ask_{slot}"
            )
            invalid = domain.responses.get(f"utter_invalid_{slot}")
            if not ask or not invalid or not _payloads(ask[0]):
                continue
            for asked, reasked in zip(ask, invalid, strict=True):
                assert _payloads(reasked) == _payloads(asked), f"utter_invalid_{slot}"
            checked += 1
    assert checked >= 5


def test_every_synonym_belongs_to_a_button_that_exists() -> None:
    domain = load_domain(DIALOGUES)
    payloads = {
        b["payload"]
        for variations in domain.responses.values()
        for v in variations
        for b in v.get("buttons") or []
    }
    data = yaml.safe_load((DIALOGUES / "choices.yml").read_text(encoding="utf-8"))
    assert set(data["choices"]) <= payloads
    for spec in data["choices"].values():
        assert all(isinstance(s, str) for s in spec.get("synonyms") or [])
