"""dialogues/payments.yml: every response in three languages with the same placeholders."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import yaml

from bot.records.importing import FEE_ITEM_ALIASES
from bot.records.models import OrderStatus

ROOT = Path(__file__).resolve().parents[2]
PAYMENTS = ROOT / "dialogues" / "payments.yml"
LANGUAGES = {"zh-Hant", "zh-Hans", "en"}


def responses() -> dict[str, list[dict[str, Any]]]:
    data = yaml.safe_load(PAYMENTS.read_text(encoding="utf-8"))
    return dict(data["responses"])


def language(variation: dict[str, Any]) -> str:
    return next(c["value"] for c in variation["condition"] if c["name"] == "language")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_response_has_three_languages_and_same_placeholders() -> None:
    for name, variations in responses().items():
        assert {language(v) for v in variations} == LANGUAGES, name
        assert len(variations) == 3, name
        assert len({frozenset(placeholders(v["text"])) for v in variations}) == 1, name
        for v in variations:
            assert v["text"].strip(), name


def test_required_responses_exist() -> None:
    names = set(responses())
    required = {
        "utter_payment_methods",
        "utter_fee_balance",
        "utter_no_arrears",
        "utter_order_status",
        "utter_order_challenge",
        "utter_order_locked",
        "utter_order_not_verified",
        "utter_order_source_unavailable",
        "utter_link_phone_needed",
        "utter_payment_proof_received",
    }
    assert required <= names
    assert {f"utter_order_status_{s.value}" for s in OrderStatus} <= names
    assert {f"utter_fee_item_{code}" for code in FEE_ITEM_ALIASES} <= names
    assert {"order_id", "status", "carrier", "tracking_number", "eta"} <= placeholders(
        responses()["utter_order_status"][2]["text"]
    )
    assert {"total", "items"} <= placeholders(responses()["utter_fee_balance"][2]["text"])
    assert "ticket_number" in placeholders(responses()["utter_payment_proof_received"][0]["text"])


def test_no_name_clashes_with_other_dialogue_files() -> None:
    ours = set(responses())
    for path in (ROOT / "dialogues").rglob("*.yml"):
        if path == PAYMENTS:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        clash = ours & set(data.get("responses") or {})
        assert not clash, f"{path.name} also defines {sorted(clash)}"


def test_share_phone_button_requested() -> None:
    for v in responses()["utter_link_phone_needed"]:
        assert v["custom"]["request_contact"] is True
