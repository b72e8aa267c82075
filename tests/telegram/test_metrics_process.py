"""/healthz and Prometheus /metrics scraped from a real `kefu run`, in polling and webhook mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.bot_api import FakeBotAPI
from tests.telegram.processes import KefuRun, free_port

pytestmark = pytest.mark.process

SECRET = "metrics-secret"


@pytest.fixture
def runs() -> Iterator[list[KefuRun]]:
    started: list[KefuRun] = []
    yield started
    for run in started:
        run.kill()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels (parsed, not grepped)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def check_scrape(text: str, handled: int) -> None:
    values = samples(text)
    assert values[("kefu_updates_total", (("result", "ok"),))] == handled
    assert values[("kefu_updates_total", (("result", "retry"),))] == 0
    assert values[("kefu_updates_total", (("result", "error"),))] == 0
    assert values[("kefu_turn_seconds_count", ())] == handled
    assert values[("kefu_turn_seconds_sum", ())] > 0
    assert values[("kefu_store_up", ())] == 1
    assert values[("kefu_outbox_backlog", ())] == 0
    assert values[("kefu_followup_lag_seconds", ())] == 0
    assert values[("kefu_dead_letters_total", ())] == 0


async def test_polling_serves_health_and_metrics_on_metrics_port(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    port = free_port()
    run = KefuRun(fake_api, sqlite_url, tmp_path, KEFU_TELEGRAM__METRICS_PORT=str(port))
    runs.append(run)
    await fake_api.until(lambda: bool(fake_api.calls_to("getUpdates")), 90)
    health = await run.get(f"http://127.0.0.1:{port}/healthz")
    assert health.status_code == 200
    assert health.json() == {"ok": True, "mode": "polling", "store": "up"}

    user = fake_api.user(4301, language_code="en")
    for n, text in enumerate(("hello", "what are your office hours"), start=1):
        (update_id,) = fake_api.queue(fake_api.text_update(user, text))
        await fake_api.until(lambda u=update_id: u not in fake_api.pending_update_ids(), 30)
        await fake_api.until(lambda n=n: len(fake_api.sent(user.id)) >= n, 30)
    metrics = await run.get(f"http://127.0.0.1:{port}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")
    check_scrape(metrics.text, handled=2)
    assert run.stop() == 0
    assert f"metrics and health on http://127.0.0.1:{port}/metrics" in run.log()


async def test_webhook_serves_health_and_metrics_on_the_webhook_port(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    port = free_port()
    run = KefuRun(
        fake_api,
        sqlite_url,
        tmp_path,
        KEFU_TELEGRAM__MODE="webhook",
        KEFU_TELEGRAM__WEBHOOK__PORT=str(port),
        KEFU_TELEGRAM__WEBHOOK__PATH="/hook",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
    )
    runs.append(run)
    health = await run.get(f"http://127.0.0.1:{port}/healthz")
    assert health.status_code == 200
    assert health.json() == {"ok": True, "mode": "webhook", "store": "up"}

    user = fake_api.user(4302, language_code="en")
    url = f"http://127.0.0.1:{port}/hook"
    answer = await fake_api.post_webhook(fake_api.text_update(user, "hello"), url=url,
                                         secret=SECRET)  # fmt: skip
    assert answer.status_code == 200
    metrics = await run.get(f"http://127.0.0.1:{port}/metrics")
    check_scrape(metrics.text, handled=1)
    assert run.stop() == 0
    # Scrapes every 15 s and Telegram's posts are not worth a log line each.
    assert "GET /metrics" not in run.log() and "POST /hook" not in run.log()


async def test_metrics_port_zero_serves_nothing(
    fake_api: FakeBotAPI, sqlite_url: str, tmp_path: Path, runs: list[KefuRun]
) -> None:
    run = KefuRun(fake_api, sqlite_url, tmp_path, KEFU_TELEGRAM__METRICS_PORT="0")
    runs.append(run)
    await fake_api.until(lambda: bool(fake_api.calls_to("getUpdates")), 90)
    assert run.stop() == 0
    assert "metrics and health on" not in run.log()
