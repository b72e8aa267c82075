"""Shared fixtures: settings, a frozen clock, real databases (SQLite and PostgreSQL), the NLU.

Migrating a database costs about two seconds, so each test run migrates once per backend into
a template and every test gets a copy: a SQLite test copies the migrated template file (under
a millisecond), a PostgreSQL module gets ``CREATE DATABASE ... TEMPLATE`` of a migrated
template database. The copies are the same schema a fresh migration gives; a test that is
about migrating calls ``Database(url).upgrade()`` itself on a new file or database.

PostgreSQL tests need a server: ``KEFU_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test module gets a fresh database
created on that server and dropped afterwards. With ``CI=true`` a missing server fails the
tests instead of skipping them. Names are unique per run (the host, the process id and a
random part), so runs in other worktrees on the same server never collide; a run that was
killed before dropping its databases has them dropped by the next run on the same host.

Every app a test builds parses ``dialogues/`` (0.1-0.4 s, hundreds of times a run): the
parsed domain is kept per run while the files are unchanged, and each app gets its own copy.

The product's NLU interpreter is trained and loaded once per run: ``shared_interpreter``, also
known as ``interpreter`` (except in tests/nlu, where that name is the fixture data set's) and
``product_interpreter``.

Tests that start real processes (``kefu run``, the CLI, a browser) are marked ``process``: they
are the long ones, so they are handed to the parallel workers first and the short in-process
tests fill the gaps, instead of one long test trailing at the end of the run.
``pytest -m "not process"`` is the quick loop while working.
"""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import sqlite3
import sys

# A run imports every module in several processes (the xdist workers, each kefu process a test
# starts). Where PYTHONDONTWRITEBYTECODE is set (some shells and containers set it) each of them
# compiled bot/ and rewrote the tests from source again: 4 s of a worker's collection, 0.4 s of
# each process's start. A test run writes bytecode, Python's default; its processes inherit that.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from bot.clock import FrozenClock
from bot.config import Settings, load_settings
from bot.dialogue.domain import Domain
from bot.store.db import Database
from tests.pg_databases import TemplateDatabases, drop_leftovers

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TZ = ZoneInfo("Asia/Hong_Kong")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Process tests first, otherwise in collection order (a stable sort: every worker agrees)."""
    items.sort(key=lambda item: item.get_closest_marker("process") is None)


def postgres_server_url() -> str:
    return os.environ.get("KEFU_TEST_POSTGRES_URL", DEFAULT_PG)


def _pg_available(url: str) -> str | None:
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "no server"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the test PostgreSQL server; skips (fails under CI=true) if down."""
    url = postgres_server_url()
    problem = _pg_available(url)
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {url}: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem})")
    return url


@pytest.fixture(scope="session")
def pg_databases(postgres_server: str) -> Iterator[TemplateDatabases]:
    """This run's migrated PostgreSQL template and its copies; all dropped at the end.

    ``take()`` gives a fresh migrated database's URL, ``give_back(url)`` drops it in the
    background (a test that needs a database of its own, not the module's ``pg_url``).
    """
    drop_leftovers(postgres_server)
    databases = TemplateDatabases(postgres_server)
    try:
        databases.start()
        yield databases
    finally:
        databases.close()


@pytest.fixture(scope="module")
def pg_url(pg_databases: TemplateDatabases) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test module (dropped after it)."""
    url = pg_databases.take()
    yield url
    pg_databases.give_back(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once for this run; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "kefu.db"
    Database(f"sqlite:///{path}").upgrade()
    # Everything into the main file, so that copying the file alone copies the database.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm", "-journal"):
        leftover = path.with_name(path.name + suffix)
        if leftover.exists() and leftover.stat().st_size:
            raise RuntimeError(f"the SQLite template left {leftover.name} behind")
        leftover.unlink(missing_ok=True)
    return path


def copy_sqlite_template(template: Path, target: Path) -> str:
    """Copy the migrated template to ``target``; returns its SQLAlchemy URL."""
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite file database."""
    return copy_sqlite_template(sqlite_template, tmp_path / "kefu.db")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
async def emptied_db(db_url: str) -> AsyncIterator[Database]:
    """The test's database with every table emptied first: a PostgreSQL database lives for a
    whole module, so tests that count what is in it start from nothing. Packages whose tests
    need that override ``db`` with this."""
    import bot.schema  # noqa: F401  (every table known to the metadata)
    from bot.store.models import Base

    database = Database(db_url)
    async with database.write() as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "alembic_version":
                await s.execute(table.delete())
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    """Friday 27 November 2026, 10:00 in Hong Kong (office open)."""
    return FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=TZ))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Project settings from the repository's config.yml, on the test database."""
    config = ROOT / "config.yml"
    return load_settings(
        config if config.exists() else None,
        environ={},
        database={"url": db_url},
        # argon2 at its minimum cost: 0.2 s of CPU a staff account and a login at the default.
        web={"password_hashing": {"time_cost": 1, "memory_kib": 8, "parallelism": 1}},
        var_dir=str(tmp_path / "var"),
        dialogues_dir=str(ROOT / "dialogues"),
        models_dir=str(ROOT / "models"),
    )


@pytest.fixture(scope="session")
def shared_interpreter() -> Any:
    """The product's NLU interpreter (``dialogues/``, ``config.yml``), trained once per data set.

    It lives in the project's ``models/``, where the ``kefu`` processes that tests start look
    for it too: the file is named by the fingerprint of the data and the feature version, so it is
    the current data's model, and the product's training lock makes the first of the parallel
    workers (and processes) train it while the others wait and load it. A clean clone trains
    once per run; a checkout that already holds the model trains not at all.
    """
    from bot.nlu import load_interpreter

    settings = load_settings(ROOT / "config.yml", environ={}, models_dir=str(ROOT / "models"))
    return load_interpreter(settings, auto_train=True)


@pytest.fixture(scope="session")
def interpreter(shared_interpreter: Any) -> Any:
    """The product's interpreter (tests/nlu overrides this name with its fixture data set)."""
    return shared_interpreter


@pytest.fixture(scope="session")
def product_interpreter(shared_interpreter: Any) -> Any:
    """The product's interpreter, under the name tests/nlu uses for it."""
    return shared_interpreter


@pytest.fixture(scope="session", autouse=True)
def _dialogues_parsed_once() -> Iterator[None]:
    """``build_app`` and the console's ``create_app`` parse unchanged ``dialogues/`` once per
    run, not once per app.

    Keyed on every file's path, size and modification time, so a test that writes its own
    dialogues gets them parsed; each call returns a fresh copy, so no app shares state with
    another; an invalid folder raises as before (errors are not kept).
    """
    import bot.app

    original = bot.app.load_domain
    parsed: dict[tuple[object, ...], bytes] = {}

    def load_domain(folder: Path) -> Domain:
        files = sorted([*folder.rglob("*.yml"), *folder.rglob("*.yaml")]) if folder.is_dir() else []
        key = (str(folder), *((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))
        if key not in parsed:
            parsed[key] = pickle.dumps(original(folder))
        domain: Domain = pickle.loads(parsed[key])
        return domain

    import bot.web.app  # the console's app parses them too (0.2 s per create_app)

    for module in (bot.app, bot.web.app):
        module.load_domain = load_domain  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in (bot.app, bot.web.app):
            module.load_domain = original  # type: ignore[attr-defined]


# Garbage collection: a test process holds hundreds of thousands of long-lived objects (every
# module, the NLU model, SQLAlchemy's metadata), and each full collection walked them all -
# about a quarter of a worker's CPU. They are frozen (``gc.freeze``: left out of collections)
# once collected, after collection and again whenever tests have grown the heap by a quarter
# (modules imported lazily, session fixtures); garbage is still collected as before.
_heap_when_frozen = 0


def _freeze_long_lived() -> None:
    global _heap_when_frozen
    gc.collect()
    gc.freeze()
    _heap_when_frozen = sys.getallocatedblocks()


def pytest_collection_finish(session: pytest.Session) -> None:
    _freeze_long_lived()


@pytest.hookimpl(trylast=True)  # after the test's fixtures are gone: they are not frozen
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if sys.getallocatedblocks() > _heap_when_frozen * 1.25:
        _freeze_long_lived()


def pytest_sessionfinish(session: pytest.Session) -> None:
    gc.unfreeze()  # Hypothesis, imported by the summary, looks for referrers of its randoms
