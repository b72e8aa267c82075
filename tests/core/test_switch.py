"""A summary's "not a complaint, a repair" switches the kind of request, carrying its details."""

from __future__ import annotations

import pytest

from bot.dialogue.switch import carried, corrected_kind


@pytest.mark.parametrize(
    ("form", "text", "intent", "target"),
    [
        ("complaint_form", "唔係投訴呀 我係要整走廊啲燈", "complaint", "repair_form"),
        ("complaint_form", "不是投诉，是要报修，电梯坏了", "repair", "repair_form"),
        ("complaint_form", "it's not a complaint, I need a repair", "repair", "repair_form"),
        ("repair_form", "this is not a repair, I want to complain", "complaint", "complaint_form"),
        ("repair_form", "唔係報修，我要投訴啲清潔", "complaint", "complaint_form"),
        # no "not this kind": the usual rules
        ("complaint_form", "我要整走廊啲燈", "repair", None),
        ("complaint_form", "唔係", "deny", None),
        ("repair_form", "不是，是1503室", "inform", None),
    ],
)
def test_corrected_kind_at_a_summary(form: str, text: str, intent: str, target: str | None) -> None:
    requested = "complaint_confirmed" if form == "complaint_form" else "repair_confirmed"
    assert corrected_kind(form, requested, text, intent) == target


def test_only_at_a_summary() -> None:
    assert corrected_kind("complaint_form", "phone", "唔係投訴 我要報修", "repair") is None


def test_carried_details_and_phone() -> None:
    slots = {"complaint_details": "走廊啲燈壞咗", "phone": "+85291234567"}
    assert carried("complaint_form", "repair_form", slots, "唔係投訴呀 我係要整走廊啲燈") == {
        "description": "我係要整走廊啲燈",
        "phone": "+85291234567",
    }
    # nothing new said: the old details carry over
    assert carried("complaint_form", "repair_form", slots, "唔係投訴，係報修")["description"] == (
        "走廊啲燈壞咗"
    )
