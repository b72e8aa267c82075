"""Starting ``kefu`` imports only what the command needs: the features' commands are imported
when one runs, so ``kefu --help`` and a one-line configuration error stay cheap (issue 12)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import FEATURES, feature

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
# Seconds of CPU between them, none of which `kefu --help` uses.
HEAVY = ("matplotlib", "openpyxl", "sklearn", "numpy", "telegram", "rasa_sdk", "starlette")


@pytest.mark.process
def test_help_lists_every_command_without_importing_the_features() -> None:
    code = (
        "import sys\n"
        "from bot.cli import app\n"
        "try:\n"
        "    app(['--help'], prog_name='kefu')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
    for name in [*FEATURES, "chat", "run", "db", "actions"]:
        assert f" {name} " in result.stdout


@pytest.mark.parametrize("name", [n for n, f in FEATURES.items() if f.docstring])
def test_a_listed_help_line_is_the_command_docstring(name: str) -> None:
    """The list shows the registered line without importing the command: it must match."""
    assert FEATURES[name].help == inspect.getdoc(feature(name))
