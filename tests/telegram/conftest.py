"""Fixtures for the Telegram channel tests: the fake Bot API server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.bot_api import FakeBotAPI  # noqa: E402


@pytest.fixture
def fake_api() -> Iterator[FakeBotAPI]:
    """A running fake Bot API server on 127.0.0.1 (random port)."""
    with FakeBotAPI() as api:
        yield api
