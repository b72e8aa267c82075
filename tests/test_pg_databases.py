"""The test run's own PostgreSQL databases: copies of a migrated template, never shared with
another run, and left-overs of a killed run dropped by the next one."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect

from bot.store.urls import sync_url
from tests.pg_databases import HOST, TEST_PREFIX, TemplateDatabases, admin, drop_leftovers

pytestmark = pytest.mark.postgres


def _exists(server: str, name: str) -> bool:
    rows = admin(server, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    return bool(rows)


def test_a_copy_is_migrated_and_its_own(pg_databases: TemplateDatabases) -> None:
    one, two = pg_databases.take(), pg_databases.take()
    try:
        assert one != two
        engine = create_engine(sync_url(one))
        try:
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
        finally:
            engine.dispose()
        assert {"alembic_version", "tickets", "messages", "followups"} <= tables
        assert pg_databases.template not in (one, two)
        for url in (one, two):
            assert f"_{HOST}_" in url  # the run's host and pid are in the name
    finally:
        pg_databases.give_back(one)
        pg_databases.give_back(two)


def test_a_killed_runs_databases_are_dropped_by_the_next(postgres_server: str) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(finished.stdout)
    dead = f"{TEST_PREFIX}_{HOST}_{dead_pid}_left0ver00"
    admin(postgres_server, f'CREATE DATABASE "{dead}"')
    try:
        assert dead in drop_leftovers(postgres_server)
        assert not _exists(postgres_server, dead)
    finally:
        admin(postgres_server, f'DROP DATABASE IF EXISTS "{dead}"')
