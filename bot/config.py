"""Settings: ``config.yml`` validated by pydantic, every key overridable from the environment.

An environment variable ``KEFU_`` + the key path joined by ``__`` overrides a key, e.g.
``KEFU_SLA__SURVEY_DELAY=0s``. ``KEFU_DATABASE_URL`` and ``KEFU_CONFIG`` are short forms for
``database.url`` and the path of the settings file. Secrets (tokens, passwords) are read from the
environment only and never belong in ``config.yml``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONFIG_PATH = "config.yml"
Language = Literal["zh-Hant", "zh-Hans", "en"]
LANGUAGES: tuple[str, ...] = ("zh-Hant", "zh-Hans", "en")


class ConfigError(Exception):
    """The settings are invalid; the message is one line that names the key."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Parse ``90s``, ``15m``, ``2h``, ``3d``, ``1w`` or a number of seconds into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 2h, 3d)")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit or "s"])


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, so typos are caught at start."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = "sqlite:///var/kefu.db"
    echo: bool = False
    pool_size: int = 10
    auto_migrate: bool = Field(
        default=True, description="Run migrations on start (always done for SQLite)."
    )


class NLUSettings(Section):
    auto_train: bool = True
    # Below `threshold` the top intent is not trusted: a clarifying question is asked; below
    # `oos_threshold` the message is treated as out of scope.
    threshold: float = 0.45
    oos_threshold: float = 0.2
    margin: float = 0.08
    faq_threshold: float = 0.3
    max_chars: int = 1000


class DialogueSettings(Section):
    max_form_retries: int = 3
    max_message_chars: int = 1000
    fallbacks_before_human: int = 2


class OrderHTTPSettings(Section):
    """The shop backend's JSON API (``orders.source: http``).

    ``url_template`` gets ``{order_id}``; ``search_url_template`` (optional) gets ``{phone}`` and
    ``{email}`` for "my recent orders". Header values may name environment variables as
    ``${NAME}`` so secrets stay out of ``config.yml``. ``fields`` maps Kefu's field names to
    dotted paths in the backend's JSON; ``orders_path`` is where the list sits in a search reply.
    """

    url_template: str = ""
    search_url_template: str = ""
    headers: dict[str, str] = {}
    timeout: float = 5.0
    retries: int = Field(default=2, ge=0)
    backoff: float = Field(default=0.2, ge=0)
    fields: dict[str, str] = {}
    orders_path: str = "orders"


class OrdersSettings(Section):
    """Order look-ups: where orders come from and how ownership is checked."""

    source: Literal["table", "http"] = "table"
    max_challenge_failures: int = Field(default=3, ge=1)
    lockout: timedelta = timedelta(minutes=30)
    # Many contacts guessing one order's digits lock that order too.
    max_order_failures: int = Field(default=10, ge=1)
    max_lookups: int = Field(default=10, ge=1)
    lookup_window: timedelta = timedelta(hours=1)
    recent_limit: int = Field(default=5, ge=1)
    # Contacts have no e-mail verification yet; trust Contact.email only if a channel verifies it.
    trust_contact_email: bool = False
    http: OrderHTTPSettings = OrderHTTPSettings()

    @field_validator("lockout", "lookup_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class LateFeeSettings(Section):
    """Late fee: ``rate`` of the outstanding amount once ``grace_days`` past the due date;
    with ``monthly`` the rate applies again for every further 30 days, up to ``max_rate``."""

    rate: float = Field(default=0.0, ge=0)
    grace_days: int = Field(default=30, ge=0)
    monthly: bool = False
    max_rate: float | None = Field(default=None, ge=0)


class FeesSettings(Section):
    currency: str = "HKD"
    late_fee: LateFeeSettings = LateFeeSettings()


class Settings(Section):
    """All of Kefu's settings. Sections are added here as features land."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    timezone: str = "Asia/Hong_Kong"
    default_language: Language = "zh-Hant"
    default_region: str = Field(default="HK", description="Phone number region for local numbers.")
    dialogues_dir: Path = Path("dialogues")
    models_dir: Path = Path("models")
    var_dir: Path = Path("var")
    database: DatabaseSettings = DatabaseSettings()
    nlu: NLUSettings = NLUSettings()
    dialogue: DialogueSettings = DialogueSettings()
    orders: OrdersSettings = OrdersSettings()
    fees: FeesSettings = FeesSettings()
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config: {path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config: {path}: top level must be a mapping of keys")
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """Nested keys from ``KEFU_A__B=value``; pydantic parses the strings."""
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("KEFU_") or name in {"KEFU_CONFIG", "KEFU_DATABASE_URL"}:
            continue
        if name.startswith("KEFU_TEST_"):
            continue
        path = name[len("KEFU_") :].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = _maybe_yaml(value)
    if environ.get("KEFU_DATABASE_URL"):
        out.setdefault("database", {})["url"] = environ["KEFU_DATABASE_URL"]
    return out


def _maybe_yaml(value: str) -> Any:
    """Let ``[0.5, 0.75]`` or ``{a: 1}`` in the environment mean a list or a mapping."""
    if value[:1] in "[{":
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return f"config: {key}: {message}"


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Load ``config.yml`` (or ``path``/``KEFU_CONFIG``), apply environment overrides, validate.

    Raises :class:`ConfigError` with one line naming the offending key.
    """
    env = dict(os.environ if environ is None else environ)
    config_path = Path(path or env.get("KEFU_CONFIG") or DEFAULT_CONFIG_PATH)
    explicit = path is not None or "KEFU_CONFIG" in env
    data: dict[str, Any] = {}
    if config_path.exists() or explicit:
        data = _read_yaml(config_path)
    data = _merge(data, _env_overrides(env))
    data = _merge(data, overrides)
    base_dir = config_path.resolve().parent
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    for attr in ("dialogues_dir", "models_dir", "var_dir"):
        value = getattr(settings, attr)
        if not value.is_absolute():
            setattr(settings, attr, base_dir / value)
    settings.database.url = _absolute_sqlite_url(settings.database.url, base_dir)
    return settings


def _absolute_sqlite_url(url: str, base_dir: Path) -> str:
    """Resolve a relative SQLite path against the config file's folder, not the cwd."""
    for prefix in ("sqlite:///", "sqlite+aiosqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:" and not rest.startswith("/"):
                return prefix + str(base_dir / rest)
    return url
