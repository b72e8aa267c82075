"""The systemd units in deploy/ run commands Kefu has, as a dedicated user, with the secrets
from an EnvironmentFile, and long-running ones are restarted (except on configuration
errors, exit code 2)."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def test_there_is_a_unit_for_each_process() -> None:
    commands = {shlex.split(_unit(u)["Service"]["ExecStart"])[1:3][0] for u in UNITS}
    assert {"run", "followups", "actions"} <= commands


@pytest.mark.parametrize("path", UNITS, ids=[u.name for u in UNITS])
def test_unit_runs_an_existing_command_safely(path: Path) -> None:
    service = _unit(path)["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/kefu")
    # The command and every option exist (an unknown one fails before --help is shown).
    result = CliRunner().invoke(app, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert service["User"] == "kefu"
    assert service["EnvironmentFile"] == "/etc/kefu/kefu.env"
    if service.get("Type") != "oneshot":
        assert service["Restart"] == "on-failure"
        assert service["RestartPreventExitStatus"] == "2"
    if argv[1:3] == ["actions", "serve"]:
        assert argv[argv.index("--host") + 1] == "127.0.0.1"  # never on a public address
