"""``kefu actions serve`` is a standard Rasa action server for the same actions."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    db = tmp_path_factory.mktemp("actions") / "kefu.db"
    env = dict(os.environ, KEFU_DATABASE_URL=f"sqlite:///{db}")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "actions",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            str(ROOT / "config.yml"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"action server did not start: {proc.stderr.read() if proc.stderr else ''}"
                )
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _call(
    url: str, action: str, slots: dict, latest: dict | None = None, events: list | None = None
) -> httpx.Response:
    tracker = {
        "sender_id": "test",
        "slots": slots,
        "latest_message": latest or {"text": "", "intent": {}, "entities": []},
        "events": events or [],
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": "repair_form"},
        "latest_action_name": None,
    }
    domain = {
        "forms": {
            "repair_form": {
                "required_slots": [
                    "description",
                    "repair_category",
                    "unit",
                    "visit_time",
                    "phone",
                    "repair_confirmed",
                ]
            }
        },
        "responses": {"utter_inquiry/office_hours": [{"text": "x"}]},
    }
    return httpx.post(
        f"{url}/webhook",
        json={"next_action": action, "tracker": tracker, "domain": domain},
        timeout=10,
    )


def test_health_and_action_list(action_server: str) -> None:
    assert httpx.get(f"{action_server}/health").json() == {"status": "ok"}
    names = {a["name"] for a in httpx.get(f"{action_server}/actions").json()}
    assert {
        "validate_repair_form",
        "action_submit_repair",
        "action_answer_faq",
        "action_handoff",
    } <= names


def test_form_validation_over_http(action_server: str) -> None:
    response = _call(
        action_server,
        "validate_repair_form",
        {"unit": "3棟2單元1502室", "requested_slot": "unit"},
        events=[{"event": "slot", "name": "unit", "value": "3棟2單元1502室"}],
    )
    assert response.status_code == 200
    events = response.json()["events"]
    assert {
        "event": "slot",
        "timestamp": None,
        "name": "unit",
        "value": {"block": "3", "unit": "2", "floor": "15", "room": "1502"},
    } in events


def test_invalid_answer_is_reasked_with_a_response(action_server: str) -> None:
    response = _call(
        action_server,
        "validate_repair_form",
        {"phone": "12", "requested_slot": "phone"},
        events=[{"event": "slot", "name": "phone", "value": "12"}],
    )
    body = response.json()
    assert any(e.get("name") == "phone" and e.get("value") is None for e in body["events"])
    assert [r["response"] for r in body["responses"]] == ["utter_invalid_phone"]


def test_faq_answer_names_the_response(action_server: str) -> None:
    latest = {
        "text": "管理處幾點上班",
        "intent": {"name": "inquiry", "confidence": 0.9},
        "entities": [],
        "response_selector": {
            "inquiry": {
                "response": {"intent_response_key": "inquiry/office_hours", "confidence": 0.9}
            }
        },
    }
    body = _call(action_server, "action_answer_faq", {}, latest=latest).json()
    assert [r["response"] for r in body["responses"]] == ["utter_inquiry/office_hours"]


def test_unknown_action_is_a_404(action_server: str) -> None:
    assert _call(action_server, "action_does_not_exist", {}).status_code == 404
