"""config.yml documents every settings key of bot/config/.

The rule, so that an operator reading config.yml sees every key Kefu understands:

* Every field of :class:`bot.config.Settings`, and of every settings model nested in it, is a
  key path such as ``telegram.rate_limit.per_second``. Items of a list or of a free-named
  mapping of models (``sla.policies``, ``agents.groups``, ``calendars``) are written ``*``:
  ``sla.policies.*.alert_on_open``.
* A key is documented when config.yml sets it (the path exists in the parsed file; for ``*``
  any item counts), or when it is shown commented out inside its parent's block: a comment
  line there that holds ``key:`` after ``#``, a space, ``{`` or ``,`` (``#   key: value``,
  ``#   - {name: x, key: y}``). The parent's block is the lines indented under the parent's
  own line (``telegram:`` ... up to the next line indented as little); for a top-level key it
  is the whole file; when the parent is itself only shown commented out, the block of its
  nearest set ancestor. A word in prose does not count: the key must be shown as YAML.
* A model used in several places (the deadline rule of ``first_response``, ``resolution``,
  ``callback`` and ``rework``) is documented once it is documented in one of them.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from bot.config import Settings

CONFIG = Path(__file__).resolve().parents[2] / "config.yml"
_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([A-Za-z_][\w-]*)\s*:")


def _models(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """``("", M)`` for a model (or ``M | None``), ``("*", M)`` for a list or dict of models."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _models(arg)
            if found is not None:
                return found
        return None
    if origin in (list, dict):
        found = _models(get_args(annotation)[-1])
        return ("*", found[1]) if found is not None else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("", annotation)
    return None


def settings_keys(
    model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], type[BaseModel]]]:
    """Every key path of the settings model, with the model that declares it."""
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        yield path, model
        nested = _models(field.annotation)
        if nested is not None:
            star, sub = nested
            yield from settings_keys(sub, (*path, star) if star else path)


def _set_in_yaml(data: Any, path: tuple[str, ...]) -> bool:
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head == "*":
        items = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
        return any(_set_in_yaml(item, rest) for item in items)
    return isinstance(data, dict) and head in data and _set_in_yaml(data[head], rest)


def _blocks(lines: list[str], path: tuple[str, ...]) -> list[list[str]]:
    """The lines under ``path`` (``*`` = under any item); the whole file for ``()``."""
    blocks = [lines]
    for part in path:
        if part == "*":
            continue  # items sit inside their parent's block
        found = []
        for block in blocks:
            for i, line in enumerate(block):
                match = _KEY_LINE.match(line)
                if match is None or match.group(2) != part or line.lstrip().startswith("#"):
                    continue
                indent = len(match.group(1))
                end = i + 1
                while end < len(block):
                    text = block[end]
                    code = text.strip() and not text.lstrip().startswith("#")
                    if code and len(text) - len(text.lstrip()) <= indent:
                        break  # comments never end a block
                    end += 1
                found.append(block[i + 1 : end])
        if not found:
            return blocks  # the parent itself is only shown commented out, in this block
        blocks = found
    return blocks


def _commented_out(lines: list[str], path: tuple[str, ...]) -> bool:
    key = re.compile(r"(?:#|\s|\{|,)" + re.escape(path[-1]) + r":")
    for block in _blocks(lines, path[:-1]):
        for line in block:
            stripped = line.lstrip()
            if stripped.startswith("#") and key.search(stripped):
                return True
    return False


def undocumented(text: str) -> list[str]:
    """Key paths of the settings model that ``text`` (a config.yml) does not document."""
    data = yaml.safe_load(text) or {}
    lines = text.splitlines()
    documented: set[tuple[type[BaseModel], str]] = set()
    missing: dict[tuple[type[BaseModel], str], list[str]] = {}
    for path, model in settings_keys():
        ident = (model, path[-1])
        if _set_in_yaml(data, path) or _commented_out(lines, path):
            documented.add(ident)
        else:
            missing.setdefault(ident, []).append(".".join(path))
    return sorted(paths[0] for ident, paths in missing.items() if ident not in documented)


def test_config_yml_documents_every_settings_key() -> None:
    missing = undocumented(CONFIG.read_text(encoding="utf-8"))
    assert not missing, "config.yml does not document: " + ", ".join(missing)


def test_the_rule_catches_a_missing_key_and_accepts_a_commented_one() -> None:
    text = CONFIG.read_text(encoding="utf-8")
    assert "telegram.poll_timeout" not in undocumented(text)
    without = re.sub(r"(?m)^  poll_timeout: .*\n", "", text)
    assert "telegram.poll_timeout" in undocumented(without)
    commented = re.sub(r"(?m)^  poll_timeout: (.*)\n", r"  # poll_timeout: \1\n", text)
    assert "telegram.poll_timeout" not in undocumented(commented)
    # Shown under another section, it is not documented where Kefu reads it.
    elsewhere = without.replace("nlu:\n", "nlu:\n  # poll_timeout: 30\n", 1)
    assert "telegram.poll_timeout" in undocumented(elsewhere)
