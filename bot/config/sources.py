"""Where settings come from: pydantic-settings sources for ``config.yml`` and the environment.

Priority, highest first (see ``Settings.settings_customise_sources``): keyword arguments of
``load_settings``, the short environment forms (``KEFU_DATABASE_URL`` ...), ``KEFU_`` + the key
path joined by ``__``, ``config.yml``, the defaults. The sources take the environment as an
argument instead of reading ``os.environ`` so that tests (and ``load_settings(environ=...)``)
decide what the process sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource, InitSettingsSource, YamlConfigSettingsSource

# Not exported at the top level; the function EnvSettingsSource itself applies to os.environ.
from pydantic_settings.sources.utils import parse_env_vars

from bot.config.base import ConfigError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

ENV_PREFIX = "KEFU_"
# Variables under the prefix that are not settings keys: the tests' own knobs.
_NOT_SETTINGS_PREFIX = "KEFU_TEST_"

# Short forms, kept from before nested keys existed; each wins over its nested spelling.
SHORT_FORMS: dict[str, tuple[str, str]] = {
    "KEFU_DATABASE_URL": ("database", "url"),
    "KEFU_TELEGRAM_BASE_URL": ("telegram", "base_url"),
    "KEFU_ACTIONS_TOKEN": ("actions", "token"),
    "KEFU_AGENT_GROUP_ID": ("agents", "default_group_id"),
    "KEFU_WEB_SECRET": ("web", "secret"),
}
# The settings file's path; read by ``load_settings``, not a key.
CONFIG_ENV = "KEFU_CONFIG"


@dataclass(frozen=True)
class LoadRequest:
    """What one ``load_settings`` call reads: the file (if any) and the environment."""

    path: Path
    required: bool
    environ: Mapping[str, str] = field(default_factory=dict)


class ConfigFileSource(YamlConfigSettingsSource):
    """``config.yml``, with a one-line :class:`ConfigError` for a missing or broken file."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, *, required: bool) -> None:
        if required and not path.is_file():
            self._read_file(path)  # raises the error that says why
        super().__init__(settings_cls, yaml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        path = Path(file_path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config: file not found: {path}") from None
        except OSError as exc:
            raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
        try:
            # libyaml's parser: the pure Python one took 0.15 s of every ``kefu`` command's
            # start (and of every test's settings) for config.yml alone; same data either way.
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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


class KefuEnvSource(EnvSettingsSource):
    """``KEFU_A__B=value`` from a given environment; lists and mappings may be written in YAML.

    pydantic-settings decodes complex values as JSON; Kefu has always accepted YAML there
    (``KEFU_SLA__WARN_AT='[0.5, 0.75]'``, ``KEFU_TELEGRAM__COMMAND_LANGUAGES='{en: en}'``),
    and a value that is not a YAML list or mapping reaches pydantic as the string it is, so a
    single word may still stand for a list of one and a bad value gets pydantic's message.
    An empty value means "none" (``env_parse_none_str``): ``KEFU_AGENTS__LANGUAGE=``.
    Unlike plain pydantic-settings, an unknown top-level name (``KEFU_DATABSE__URL``) is an
    error, as a misspelt key in ``config.yml`` is.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Only the upper-case prefix counts (``kefu_nlu__threshold`` is not a setting), as
        # before pydantic-settings; names are then matched case-insensitively.
        ours = {k: v for k, v in self._environ.items() if k.startswith(ENV_PREFIX)}
        return parse_env_vars(
            ours, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                return value
        return value

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        known = set(self.settings_cls.model_fields)
        for name, value in self._environ.items():
            if not name.startswith(ENV_PREFIX) or name.startswith(_NOT_SETTINGS_PREFIX):
                continue
            if name in SHORT_FORMS or name == CONFIG_ENV:
                continue
            key = name[len(ENV_PREFIX) :].lower().split("__")[0]
            if key and key not in known:
                data.setdefault(key, value)  # rejected as an unknown key by the model
        return data


class ShortFormsSource(InitSettingsSource):
    """``KEFU_DATABASE_URL`` and the other short forms, when set and not empty."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        values: dict[str, Any] = {}
        for name, (section, key) in SHORT_FORMS.items():
            if environ.get(name):
                values.setdefault(section, {})[key] = environ[name]
        super().__init__(settings_cls, values)
