"""Settings: ``config.yml`` validated by pydantic, every key overridable from the environment.

Built on pydantic-settings. An environment variable ``KEFU_`` + the key path joined by ``__``
overrides a key, e.g. ``KEFU_SLA__SURVEY_DELAY=0s``; lists and mappings may be written in YAML
(``KEFU_SLA__WARN_AT='[0.5, 0.75]'``). ``KEFU_DATABASE_URL``, ``KEFU_TELEGRAM_BASE_URL``,
``KEFU_ACTIONS_TOKEN`` and ``KEFU_AGENT_GROUP_ID`` are short forms, ``KEFU_CONFIG`` the path of
the settings file. Secrets (tokens, passwords) are read from the environment only and never
belong in ``config.yml``.

Each feature's section is its own module (``bot.config.nlu``, ``bot.config.sla`` ...); this
module composes them into :class:`Settings` and keeps every name importable from ``bot.config``.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bot.config.actions import ActionsSettings
from bot.config.agents import AgentGroupSettings, AgentRoutes, AgentsSettings
from bot.config.base import (
    LANGUAGES,
    ConfigError,
    Count,
    Fraction,
    Language,
    Port,
    Section,
    parse_duration,
)
from bot.config.calendars import CalendarSettings, _default_calendars
from bot.config.database import DatabaseSettings
from bot.config.dialogue import DialogueSettings
from bot.config.evaluation import EvaluationSettings
from bot.config.fees import FeeRemindersSettings, FeesSettings, LateFeeSettings
from bot.config.nlu import NLUSettings
from bot.config.notices import NoticesSettings
from bot.config.office import OfficeSettings
from bot.config.orders import OrderHTTPSettings, OrdersSettings
from bot.config.reports import ReportsSettings
from bot.config.sla import DeadlineRule, PolicyMatch, SLAPolicy, SLASettings
from bot.config.sources import (
    CONFIG_ENV,
    ENV_PREFIX,
    ConfigFileSource,
    KefuEnvSource,
    LoadRequest,
    ShortFormsSource,
)
from bot.config.telegram import (
    TelegramRateLimitSettings,
    TelegramSettings,
    TelegramWebhookSettings,
)
from bot.config.web import WebSettings

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "LANGUAGES",
    "ActionsSettings",
    "AgentGroupSettings",
    "AgentRoutes",
    "AgentsSettings",
    "CalendarSettings",
    "ConfigError",
    "Count",
    "DatabaseSettings",
    "DeadlineRule",
    "DialogueSettings",
    "EvaluationSettings",
    "FeeRemindersSettings",
    "FeesSettings",
    "Fraction",
    "Language",
    "LateFeeSettings",
    "NLUSettings",
    "NoticesSettings",
    "OfficeSettings",
    "OrderHTTPSettings",
    "OrdersSettings",
    "PolicyMatch",
    "Port",
    "ReportsSettings",
    "SLAPolicy",
    "SLASettings",
    "Section",
    "Settings",
    "TelegramRateLimitSettings",
    "TelegramSettings",
    "TelegramWebhookSettings",
    "WebSettings",
    "load_settings",
    "parse_duration",
]

DEFAULT_CONFIG_PATH = "config.yml"

# The file and environment of the ``load_settings`` call in progress. Outside one,
# ``Settings(...)`` is its defaults plus its arguments: code and tests that build settings
# directly never pick up the process environment or a config.yml in the working directory.
_REQUEST: ContextVar[LoadRequest | None] = ContextVar("kefu_settings_request", default=None)


class Settings(BaseSettings):
    """All of Kefu's settings. Sections are added here as features land."""

    model_config = SettingsConfigDict(
        extra="forbid",
        validate_default=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        # An empty variable means null, as it always has: `KEFU_TELEGRAM__METRICS_PORT=` is off.
        env_parse_none_str="",
    )

    timezone: str = "Asia/Hong_Kong"
    default_language: Language = "zh-Hant"
    default_region: str = Field(default="HK", description="Phone number region for local numbers.")
    dialogues_dir: Path = Path("dialogues")
    models_dir: Path = Path("models")
    var_dir: Path = Path("var")
    database: DatabaseSettings = DatabaseSettings()
    nlu: NLUSettings = NLUSettings()
    dialogue: DialogueSettings = DialogueSettings()
    telegram: TelegramSettings = TelegramSettings()
    agents: AgentsSettings = AgentsSettings()
    orders: OrdersSettings = OrdersSettings()
    fees: FeesSettings = FeesSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    actions: ActionsSettings = ActionsSettings()
    log_level: str = "INFO"
    # Business calendars by name; "24x7" is built in. See bot.sla.
    calendars: dict[str, CalendarSettings] = Field(default_factory=_default_calendars)
    sla: SLASettings = SLASettings()
    web: WebSettings = WebSettings()
    reports: ReportsSettings = ReportsSettings()
    # The office's hours (a calendar above) and hotline, quoted by the FAQ.
    office: OfficeSettings = OfficeSettings()
    notices: NoticesSettings = NoticesSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments > short env forms > ``KEFU_A__B`` > ``config.yml`` > defaults."""
        request = _REQUEST.get()
        if request is None:
            return (init_settings,)
        return (
            init_settings,
            ShortFormsSource(settings_cls, request.environ),
            KefuEnvSource(settings_cls, request.environ),
            ConfigFileSource(settings_cls, request.path, required=request.required),
        )

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _sla_calendars_exist(self) -> Settings:
        known = set(self.calendars) | {"24x7"}
        rules = [("sla.rework", self.sla.rework)]
        for i, policy in enumerate(self.sla.policies):
            for which in ("first_response", "resolution", "callback"):
                rule = getattr(policy, which)
                if rule is not None:
                    rules.append((f"sla.policies.{i}.{which}", rule))
        for key, rule in rules:
            if rule.time == "business" and rule.calendar not in known:
                raise ValueError(f"{key}.calendar: unknown calendar {rule.calendar!r}")
        return self

    @model_validator(mode="after")
    def _agents_calendar_exists(self) -> Settings:
        if self.agents.calendar not in set(self.calendars) | {"24x7"}:
            raise ValueError(f"agents.calendar: unknown calendar {self.agents.calendar!r}")
        return self

    @model_validator(mode="after")
    def _office_calendar_exists(self) -> Settings:
        if self.office.calendar not in set(self.calendars) | {"24x7"}:
            raise ValueError(f"office.calendar: unknown calendar {self.office.calendar!r}")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


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

    ``environ`` replaces ``os.environ`` (tests pass their own); ``overrides`` are keyword
    arguments of :class:`Settings` and win over everything, merged key by key into sections.
    Raises :class:`ConfigError` with one line naming the offending key.
    """
    env = dict(os.environ if environ is None else environ)
    config_path = Path(path or env.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    # A named file must be readable; the default ./config.yml only when something is there.
    required = path is not None or CONFIG_ENV in env or config_path.exists()
    request = LoadRequest(path=config_path, required=required, environ=env)
    token = _REQUEST.set(request)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:
        raise ConfigError(f"config: {' '.join(str(exc).split())}") from None
    finally:
        _REQUEST.reset(token)
    base_dir = config_path.resolve().parent
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
