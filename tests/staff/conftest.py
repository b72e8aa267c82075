"""Fixtures for the staff tests: the agents' harness (fake Bot API, real PTB, the desk) and a
fresh database per test on SQLite and PostgreSQL, shared with tests/agents."""

from __future__ import annotations

from tests.agents.conftest import db_url, fake_api, harness

__all__ = ["db_url", "fake_api", "harness"]
