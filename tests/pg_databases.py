"""Throw-away PostgreSQL databases for one test run: copies of one migrated template.

Migrating costs seconds; ``CREATE DATABASE ... TEMPLATE`` copies a migrated database instead.
Creating and dropping a database still waits on the server's disk (a second or more when the
machine is busy), so one thread makes the next copies while tests run and another drops used
ones behind them. Nothing is shared between runs: every name carries this host, this process
id and a random part, and a run killed before its clean-up has its databases dropped by the
next run on the same host (:func:`drop_leftovers`).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.store.db import Database, sync_url

HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
TEMPLATE_PREFIX = "kefu_tpl"
TEST_PREFIX = "kefu_test"


def run_name(prefix: str) -> str:
    """``<prefix>_<host>_<pid>_<random>``: unique, and says which run made it."""
    return f"{prefix}_{HOST}_{os.getpid()}_{uuid.uuid4().hex[:10]}"


def url_of(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def admin(server_url: str, statement: str) -> list[Any]:
    """Run one statement in autocommit on the server; returns its rows (if any)."""
    engine = create_engine(sync_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(text(statement))
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def drop(server_url: str, name: str) -> None:
    admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def drop_leftovers(server_url: str) -> list[str]:
    """Drop this host's test databases whose run has ended (killed before its clean-up)."""
    rows = admin(
        server_url,
        "SELECT datname FROM pg_database "
        f"WHERE datname LIKE '{TEMPLATE_PREFIX}\\_{HOST}\\_%' "
        f"OR datname LIKE '{TEST_PREFIX}\\_{HOST}\\_%'",
    )
    dropped = []
    for (name,) in rows:
        pid = name.split("_")[3]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            drop(server_url, name)
            dropped.append(name)
    return dropped


class TemplateDatabases:
    """Migrated databases for one run, copied from a template migrated once."""

    ahead = 2  # copies kept ready: tests that each need their own come one after another

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.template = run_name(TEMPLATE_PREFIX)
        # One thread makes copies, another drops used ones, so a test never waits for a drop.
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copies")
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drops")
        self._ready: deque[Future[str]] = deque()
        self._live: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> TemplateDatabases:
        """Create and migrate the template (alembic uses a NullPool: no connection stays)."""
        admin(self.server_url, f'CREATE DATABASE "{self.template}"')
        Database(url_of(self.server_url, self.template)).upgrade()
        self._fill()
        return self

    def _fill(self) -> None:
        while len(self._ready) < self.ahead:
            self._ready.append(self._maker.submit(self._create))

    def _create(self) -> str:
        name = run_name(TEST_PREFIX)
        with self._lock:
            self._live.add(name)  # before creating: a half-made one is dropped at the end too
        admin(self.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def _drop(self, name: str) -> None:
        drop(self.server_url, name)
        with self._lock:
            self._live.discard(name)

    def take(self) -> str:
        """A fresh migrated database (made while earlier tests ran); returns its URL."""
        self._fill()
        ready = self._ready.popleft()
        self._fill()
        return url_of(self.server_url, ready.result())

    def give_back(self, url: str) -> None:
        """Drop a database in the background; the run's end waits for it."""
        name = make_url(url).database
        if name:
            self._dropper.submit(self._drop, name)

    def close(self) -> None:
        """Drop every database of this run, the template last (also after failures)."""
        try:
            self._maker.shutdown(wait=True, cancel_futures=True)
            self._dropper.shutdown(wait=True)
        finally:
            left = sorted(self._live)
            if left:  # side by side: each drop mostly waits on the server's disk
                with ThreadPoolExecutor(max_workers=len(left)) as pool:
                    list(pool.map(lambda name: drop(self.server_url, name), left))
            drop(self.server_url, self.template)
