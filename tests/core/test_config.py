"""Settings: validation errors name the key; the environment overrides the file."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.config import ConfigError, load_settings, parse_duration

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]


def test_repository_config_is_valid() -> None:
    settings = load_settings(ROOT / "config.yml", environ={})
    assert settings.timezone == "Asia/Hong_Kong"
    assert settings.database.url.startswith("sqlite:///")
    assert settings.database.url.endswith("/var/kefu.db")  # relative to the file, not the cwd


def test_environment_overrides_nested_keys_and_short_forms(tmp_path: Path) -> None:
    settings = load_settings(
        ROOT / "config.yml",
        environ={
            "KEFU_NLU__THRESHOLD": "0.6",
            "KEFU_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "KEFU_DIALOGUE__MAX_FORM_RETRIES": "5",
        },
    )
    assert settings.nlu.threshold == 0.6
    assert settings.database.url == "postgresql+psycopg://u@h/db"
    assert settings.dialogue.max_form_retries == 5


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("timezone: Mars/Olympus\n", {}, "config: timezone: Value error, unknown timezone"),
        ("nlu:\n  threshold: high\n", {}, "config: nlu.threshold: Input should be a valid number"),
        ("databse:\n  url: x\n", {}, "config: databse: unknown key"),
        ("timezone: [unclosed\n", {}, "config.yml line"),
        ("- a list\n", {}, "top level must be a mapping"),
        ("", {"KEFU_DIALOGUE__MAX_FORM_RETRIES": "many"}, "config: dialogue.max_form_retries"),
        # ratios, fractions and probabilities are in [0, 1]; counts are sane
        ("nlu:\n  threshold: 5\n", {}, "config: nlu.threshold: Input should be less than or"),
        ("", {"KEFU_NLU__MARGIN": "-0.1"}, "config: nlu.margin: Input should be greater than"),
        ("fees:\n  late_fee:\n    rate: 5\n", {}, "config: fees.late_fee.rate"),
        ("", {"KEFU_DIALOGUE__MAX_FORM_RETRIES": "0"}, "config: dialogue.max_form_retries"),
        ("", {"KEFU_DATABASE__POOL_SIZE": "0"}, "config: database.pool_size"),
        ("", {"KEFU_TELEGRAM__WEBHOOK__PORT": "70000"}, "config: telegram.webhook.port"),
        ("", {"KEFU_AGENTS__ESCALATE_SURVEY_SCORE": "9"}, "config: agents.escalate_survey_score"),
        ("agents:\n  claim_reminders: [0.5, 2]\n", {}, "config: agents.claim_reminders"),
        # a database Kefu cannot use is named, with what to write instead
        ("", {"KEFU_DATABASE_URL": "mysql://u:pw@h/db"}, "mysql is not supported"),
        ("", {"KEFU_DATABASE_URL": "postgresql+psycopg2://h/db"}, "write postgresql+psycopg://"),
        ("", {"KEFU_DATABASE_URL": "kefu.db"}, "config: database.url: Value error, not a database"),
    ],
)
def test_invalid_settings_give_one_line_naming_the_key(
    tmp_path: Path, content: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "config.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_postgresql_url_without_a_driver_means_psycopg() -> None:
    from bot.store.db import Database

    settings = load_settings(
        ROOT / "config.yml", environ={"KEFU_DATABASE_URL": "postgresql://u@h/db"}
    )
    assert settings.database.url == "postgresql://u@h/db"
    assert Database(settings.database.url).async_url.startswith("postgresql+psycopg://")


def test_psycopg_is_a_default_dependency() -> None:
    """PostgreSQL is the shared store: a plain `pip install kefu` must be able to use it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(d.startswith("psycopg[binary]") for d in project["dependencies"])
    assert not project["optional-dependencies"].get("postgres")  # an empty alias at most


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yml", environ={})


def test_durations() -> None:
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("0s") == timedelta(0)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration(90) == timedelta(seconds=90)
    with pytest.raises(ValueError):
        parse_duration("soon")


def _kefu_chat(config: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Result:
    """``kefu chat`` inside the test with only ``env`` for settings: the one-line errors need
    no process of their own (a real one, with its exit code, is the unreachable database's
    test below; each cost ~4.5 s of CPU to start)."""
    from bot.cli import app

    for name in [n for n in os.environ if n.startswith("KEFU_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["chat", "--config", str(config)], input="你好\n", env=env)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    return result


def test_cli_reports_a_broken_config_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yml"
    path.write_text("nlu:\n  threshold: high\n", encoding="utf-8")
    result = _kefu_chat(path, monkeypatch)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "kefu: config: nlu.threshold: Input should be a valid number, "
        "unable to parse string as a number"
    )


def test_cli_names_an_unsupported_database_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _kefu_chat(
        ROOT / "config.yml", monkeypatch, KEFU_DATABASE_URL="mysql://kefu:secret@db/kefu"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("kefu: config: database.url: ")
    assert "postgresql+psycopg://" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "secret" not in result.output


def test_cli_reports_an_unreachable_database_in_one_sentence(tmp_path: Path) -> None:
    """A real ``kefu`` process: its exit code and stderr, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--config", str(ROOT / "config.yml")],
        capture_output=True,
        text=True,
        input="你好\n",
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "KEFU_DATABASE_URL": "postgresql+psycopg://kefu:secret@127.0.0.1:1/kefu",
        },
    )
    assert result.returncode == 3
    assert "cannot be reached" in result.stderr
    assert "secret" not in result.stderr  # the password never reaches the screen
    assert "Traceback" not in result.stderr


def test_a_postgresql_url_without_psycopg_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from bot.dburl import check_database_url

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    with pytest.raises(ValueError, match=r"pip install 'psycopg\[binary\]'"):
        check_database_url("postgresql://u@h/db")
    assert check_database_url("sqlite:///var/kefu.db") == "sqlite:///var/kefu.db"
