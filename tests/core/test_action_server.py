"""``kefu actions serve`` is a standard Rasa action server for the same actions, private:
loopback by default, Rasa's token required, the customer taken from the tracker's sender."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.process, pytest.mark.xdist_group("action-server")]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_command(port: int) -> list[str]:
    """No --host: the default address is under test too."""
    config = str(ROOT / "config.yml")
    return [sys.executable, "-m", "bot", "actions", "serve", "--port", str(port), "-c", config]


@pytest.fixture(scope="module")
def server_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('actions') / 'kefu.db'}"


@contextmanager
def serving(database_url: str, **env: str) -> Iterator[str]:
    """A real ``kefu actions serve`` on ``database_url`` with the token (and ``env``); its URL
    once /health answers. Stopped on leaving."""
    port = _free_port()
    environ = dict(os.environ, KEFU_DATABASE_URL=database_url, KEFU_ACTIONS_TOKEN=TOKEN, **env)
    proc = subprocess.Popen(
        _serve_command(port), env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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
        # Stopping is not what these tests check; a machine under load may take a while.
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def action_server(server_db: str) -> Iterator[str]:
    """One server for the module: each test only sends requests to it (the server keeps no
    state between requests; what they store goes to the module's database, under senders of
    their own), and each process costs seconds of CPU to start."""
    with serving(server_db) as url:
        yield url


def _call(
    url: str,
    action: str,
    slots: dict,
    latest: dict | None = None,
    events: list | None = None,
    *,
    sender: str = "test",
    token: str | None = TOKEN,
) -> httpx.Response:
    tracker = {
        "sender_id": sender,
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
        params={"token": token} if token is not None else None,
        json={"next_action": action, "tracker": tracker, "domain": domain},
        timeout=10,
    )


def test_health_and_action_list(action_server: str) -> None:
    assert httpx.get(f"{action_server}/health").json() == {"status": "ok"}
    actions = httpx.get(f"{action_server}/actions", params={"token": TOKEN})
    names = {a["name"] for a in actions.json()}
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


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def test_binds_loopback_by_default(action_server: str) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    port = int(action_server.rsplit(":", 1)[1])
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else


def test_requests_without_the_token_are_refused(action_server: str) -> None:
    for token in (None, "", "wrong", TOKEN + "x"):
        response = _call(action_server, "action_my_tickets", {}, token=token)
        assert response.status_code == 401, token
        assert "ticket" not in response.text
    assert httpx.get(f"{action_server}/actions").status_code == 401
    assert httpx.get(f"{action_server}/health").status_code == 200  # probes need no secret


def test_refuses_to_start_without_a_token(server_db: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_ACTIONS")}
    env["KEFU_DATABASE_URL"] = server_db
    done = subprocess.run(
        _serve_command(_free_port()), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line, no traceback
    assert "KEFU_ACTIONS_TOKEN" in done.stderr


async def _plant_ticket(url: str) -> tuple[int, str]:
    """Someone else's ticket, opened by the bot itself: their contact id and ticket number."""
    from datetime import UTC, datetime

    from bot.store.db import Database
    from bot.store.models import Contact
    from bot.tickets import open_ticket

    db = Database(url)
    now = datetime.now(UTC)
    try:
        async with db.write() as session:
            victim = Contact(display_name="Victim", phone="+85291234567", created_at=now,
                             updated_at=now)  # fmt: skip
            session.add(victim)
            await session.flush()
            ticket = await open_ticket(
                session, kind="repair", now=now, actor="user", contact_id=victim.id,
                description="Leak at the victim's flat", category="water_leak",
            )  # fmt: skip
            return victim.id, ticket.number
    finally:
        await db.dispose()


def _ticket_numbers(body: dict) -> list[str]:
    return [
        line["values"]["number"] for r in body["responses"] for line in (r.get("tickets") or [])
    ]


def test_metadata_contact_id_does_not_reveal_anothers_tickets(
    action_server: str, server_db: str
) -> None:
    victim_id, number = asyncio.run(_plant_ticket(server_db))
    latest = {"text": "/mytickets", "intent": {"name": "my_tickets"}, "entities": [],
              "metadata": {"contact_id": victim_id}}  # fmt: skip
    response = _call(action_server, "action_my_tickets", {}, latest=latest, sender="mallory")
    assert response.status_code == 200
    body = response.json()
    assert number not in response.text
    assert [r["response"] for r in body["responses"]] == ["utter_no_tickets"]


def test_a_ticket_opened_through_the_server_is_the_senders(action_server: str) -> None:
    slots = {
        "description": "Kitchen tap leaking",
        "repair_category": "water_leak",
        "unit": "1503",
        "phone": "91234567",
        "visit_time": "tomorrow morning",
        "repair_confirmed": True,
        "language": "en",
    }
    submitted = _call(action_server, "action_submit_repair", slots, sender="tg-alice")
    assert submitted.status_code == 200
    [reply] = submitted.json()["responses"]
    number = reply["ticket_number"]

    mine = _call(action_server, "action_my_tickets", {}, sender="tg-alice").json()
    assert _ticket_numbers(mine) == [number]
    others = _call(action_server, "action_my_tickets", {}, sender="tg-bob").json()
    assert number not in _ticket_numbers(others)
    assert [r["response"] for r in others["responses"]] == ["utter_no_tickets"]
