"""Settings on pydantic-settings: where each value comes from, and which source wins.

Each test pins one behaviour ``bot.config`` re-implements on pydantic-settings' sources:
nested ``KEFU_A__B`` names, YAML lists and mappings in the environment, the short forms,
the priority of the sources, and the one-line errors.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=env)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- nested names ---------------------------------------------------------------------------


def test_nested_names_reach_every_depth_and_merge_with_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, "telegram:\n  mode: webhook\n  webhook:\n    path: /hook\n")
    settings = load_settings(
        path,
        environ={
            "KEFU_TELEGRAM__WEBHOOK__PORT": "9000",
            "KEFU_SLA__SURVEY_DELAY": "0s",
            "KEFU_LOG_LEVEL": "DEBUG",
        },
    )
    assert settings.telegram.webhook.port == 9000
    assert settings.telegram.webhook.path == "/hook"  # the file's sibling key is kept
    assert settings.telegram.mode == "webhook"
    assert settings.sla.survey_delay == timedelta(0)
    assert settings.log_level == "DEBUG"


def test_nested_names_inside_a_mapping_of_sections(tmp_path: Path) -> None:
    """``calendars`` is a mapping of named sections: a name may add one or change one."""
    settings = load_settings(
        _config(tmp_path, "calendars:\n  office:\n    holidays: HK\n"),
        environ={
            "KEFU_CALENDARS__OFFICE__ALWAYS_OPEN": "true",
            "KEFU_CALENDARS__NIGHT__HOURS": "{daily: ['22:00-06:00']}",
        },
    )
    assert settings.calendars["office"].always_open is True
    assert settings.calendars["office"].holidays == "HK"  # the file's other keys
    assert settings.calendars["night"].weekly()[0] == [(22 * 60, 6 * 60)]


def test_only_the_upper_case_prefix_counts_and_test_knobs_are_not_settings(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        _config(tmp_path, ""),
        environ={"kefu_nlu__threshold": "0.9", "KEFU_TEST_POSTGRES_URL": "postgresql://x/y"},
    )
    assert settings.nlu.threshold == 0.3


def test_an_empty_variable_means_none(tmp_path: Path) -> None:
    settings = load_settings(
        _config(tmp_path, "agents:\n  language: en\n"),
        environ={"KEFU_TELEGRAM__METRICS_PORT": "", "KEFU_AGENTS__LANGUAGE": ""},
    )
    assert settings.telegram.metrics_port is None
    assert settings.agents.language is None


# --- YAML values in the environment ---------------------------------------------------------


def test_lists_and_mappings_may_be_written_in_yaml(tmp_path: Path) -> None:
    settings = load_settings(
        _config(tmp_path, ""),
        environ={
            "KEFU_SLA__WARN_AT": "[0.5, 0.75]",
            "KEFU_TELEGRAM__COMMAND_LANGUAGES": "{en: en, '': zh-Hant}",
            "KEFU_AGENTS__GROUPS": "[{name: repairs, chat_id: -100123, routes: {intents: repair}}]",
            "KEFU_DIALOGUE": "{max_form_retries: 4}",
            "KEFU_DIALOGUE__FALLBACKS_BEFORE_HUMAN": "3",
        },
    )
    assert settings.sla.warn_at == [0.5, 0.75]
    assert settings.telegram.command_languages == {"en": "en", "": "zh-Hant"}
    assert settings.agents.groups[0].chat_id == -100123
    assert settings.agents.groups[0].routes.intents == ["repair"]
    assert settings.dialogue.max_form_retries == 4
    assert settings.dialogue.fallbacks_before_human == 3


def test_one_word_stands_for_a_list_of_one(tmp_path: Path) -> None:
    """Not JSON, not YAML flow: the string reaches the section, which makes it a list."""
    settings = load_settings(
        _config(tmp_path, ""), environ={"KEFU_AGENTS__ESCALATE_INTENTS": "repair"}
    )
    assert settings.agents.escalate_intents == ["repair"]


def test_broken_yaml_in_the_environment_is_one_line_naming_the_key(tmp_path: Path) -> None:
    message = _error(_config(tmp_path, ""), {"KEFU_SLA__WARN_AT": "[0.5, "})
    assert message.startswith("config: sla.warn_at: Input should be a valid list")


def test_shop_headers_keep_their_dollar_names_until_a_request(tmp_path: Path) -> None:
    """``${NAME}`` is not a settings feature: the secret never sits in the settings object."""
    from zoneinfo import ZoneInfo

    from bot.records.order_sources import HttpOrderSource

    path = _config(
        tmp_path,
        "orders:\n  source: http\n  http:\n    url_template: http://shop/{order_id}\n"
        '    headers: {Authorization: "Bearer ${SHOP_TOKEN}"}\n',
    )
    settings = load_settings(path, environ={"SHOP_TOKEN": "s3cret"})
    assert settings.orders.http.headers == {"Authorization": "Bearer ${SHOP_TOKEN}"}
    source = HttpOrderSource(
        settings.orders.http, tz=ZoneInfo("UTC"), environ={"SHOP_TOKEN": "s3cret"}
    )
    assert source._headers()["Authorization"] == "Bearer s3cret"


# --- short forms ----------------------------------------------------------------------------


def test_every_short_form(tmp_path: Path) -> None:
    settings = load_settings(
        _config(tmp_path, ""),
        environ={
            "KEFU_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "KEFU_TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
            "KEFU_ACTIONS_TOKEN": "t0ken",
            "KEFU_AGENT_GROUP_ID": "-100777",
        },
    )
    assert settings.database.url == "postgresql+psycopg://u@h/db"
    assert settings.telegram.base_url == "http://127.0.0.1:8081/bot"
    assert settings.actions.token == "t0ken"
    assert settings.agents.default_group_id == -100777


def test_a_short_form_wins_over_its_nested_name_and_an_empty_one_is_ignored(
    tmp_path: Path,
) -> None:
    path = _config(tmp_path, "database:\n  url: sqlite:///from-file.db\n")
    settings = load_settings(
        path,
        environ={
            "KEFU_DATABASE_URL": "postgresql+psycopg://u@h/short",
            "KEFU_DATABASE__URL": "postgresql+psycopg://u@h/nested",
            "KEFU_ACTIONS_TOKEN": "",
            "KEFU_ACTIONS__TOKEN": "nested",
        },
    )
    assert settings.database.url == "postgresql+psycopg://u@h/short"
    assert settings.actions.token == "nested"


def test_kefu_config_names_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, "default_region: TW\n")
    assert load_settings(environ={"KEFU_CONFIG": str(path)}).default_region == "TW"
    message = _error(tmp_path / "missing.yml", {})
    assert message == f"config: file not found: {tmp_path / 'missing.yml'}"
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(environ={"KEFU_CONFIG": str(tmp_path / "gone.yml")})


# --- priority -------------------------------------------------------------------------------


def test_priority_keywords_then_environment_then_file_then_defaults(tmp_path: Path) -> None:
    path = _config(tmp_path, "nlu:\n  threshold: 0.4\n  margin: 0.1\n  faq_threshold: 0.2\n")
    env = {"KEFU_NLU__THRESHOLD": "0.5", "KEFU_NLU__MARGIN": "0.15"}
    settings = load_settings(path, environ=env, nlu={"threshold": 0.6})
    assert settings.nlu.threshold == 0.6  # keyword over environment over file
    assert settings.nlu.margin == 0.15  # environment over file
    assert settings.nlu.faq_threshold == 0.2  # file over default
    assert settings.nlu.oos_threshold == 0.2  # default
    assert load_settings(path, environ=env).nlu.threshold == 0.5
    assert load_settings(path, environ={}).nlu.threshold == 0.4


def test_a_keyword_override_wins_over_a_short_form(tmp_path: Path) -> None:
    settings = load_settings(
        _config(tmp_path, ""),
        environ={"KEFU_DATABASE_URL": "postgresql+psycopg://u@h/db"},
        database={"url": "sqlite:///kw.db"},
    )
    assert settings.database.url == f"sqlite:///{tmp_path / 'kw.db'}"


def test_the_process_environment_is_read_only_by_load_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Settings(...)`` built in code is its defaults and arguments, whatever the process has."""
    monkeypatch.setenv("KEFU_NLU__THRESHOLD", "0.7")
    monkeypatch.chdir(_config(tmp_path, "timezone: UTC\n").parent)
    direct = Settings(dialogue={"max_form_retries": 4})
    assert direct.nlu.threshold == 0.3
    assert direct.timezone == "Asia/Hong_Kong"
    assert direct.dialogue.max_form_retries == 4
    loaded = load_settings()  # ./config.yml and os.environ
    assert loaded.nlu.threshold == 0.7
    assert loaded.timezone == "UTC"
    assert load_settings(environ={}).nlu.threshold == 0.3


# --- one-line errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEFU_DATABSE__URL": "sqlite:///x.db"}, "config: databse: unknown key"),
        ({"KEFU_NLU__TRESHOLD": "0.5"}, "config: nlu.treshold: unknown key"),
        ({"KEFU_AGENT_GROUP_ID": "ops"}, "config: agents.default_group_id: Input should be"),
        ({"KEFU_DIALOGUE__FORM_TIMEOUT": "soon"}, "config: dialogue.form_timeout: Value error"),
        ({"KEFU_AGENTS__CALENDAR": "nope"}, "agents.calendar: unknown calendar 'nope'"),
    ],
)
def test_environment_errors_are_one_line_naming_the_key(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    assert message in _error(_config(tmp_path, ""), env)


def test_file_errors_are_one_line(tmp_path: Path) -> None:
    assert _error(_config(tmp_path, "a: [1\n"), {}).startswith(
        f"config: {tmp_path}/config.yml line"
    )
    assert _error(tmp_path, {}).startswith(f"config: cannot read {tmp_path}: ")


def test_an_unreadable_default_file_is_an_error_and_a_missing_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).timezone == "Asia/Hong_Kong"  # no ./config.yml: defaults
    (tmp_path / "config.yml").mkdir()
    with pytest.raises(ConfigError, match=r"^config: cannot read config.yml: "):
        load_settings(environ={})


def test_the_process_stops_with_one_line_for_a_bad_environment_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``kefu chat`` inside the test (tests/core/test_config.py keeps a real process for the
    exit code and stderr of a one-line error; another here cost ~4.5 s of CPU to start)."""
    from bot.cli import app

    for name in [n for n in os.environ if n.startswith("KEFU_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(
        app,
        ["chat", "--config", str(ROOT / "config.yml")],
        input="",
        env={"KEFU_SLA__WARN_AT": "[0.5, 2]"},
    )
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == 2
    assert result.stderr == (
        "kefu: config: sla.warn_at: Value error, "
        "warn_at fractions must be between 0 and 1 (e.g. [0.75])\n"
    )


def test_every_name_is_still_importable_from_bot_config() -> None:
    import bot.config

    names = [
        "ActionsSettings",
        "AgentGroupSettings",
        "AgentRoutes",
        "AgentsSettings",
        "CalendarSettings",
        "ConfigError",
        "DatabaseSettings",
        "DeadlineRule",
        "DialogueSettings",
        "FeesSettings",
        "LANGUAGES",
        "LateFeeSettings",
        "NLUSettings",
        "OrderHTTPSettings",
        "OrdersSettings",
        "PolicyMatch",
        "SLAPolicy",
        "SLASettings",
        "Section",
        "Settings",
        "TelegramRateLimitSettings",
        "TelegramSettings",
        "TelegramWebhookSettings",
        "load_settings",
        "parse_duration",
        "DEFAULT_CONFIG_PATH",
        "Language",
    ]
    assert [n for n in names if not hasattr(bot.config, n)] == []
