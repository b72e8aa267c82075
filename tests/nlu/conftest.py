"""NLU test fixtures: a small fixture data set trained once per session into a temp folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nlu_helpers import FIXTURES, make_settings

from bot.config import Settings
from bot.nlu import Interpreter, load_interpreter, train


@pytest.fixture(scope="session")
def fixture_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the fixture data set (tests may not edit the original)."""
    target = tmp_path_factory.mktemp("nlu-data") / "dialogues"
    shutil.copytree(FIXTURES / "dialogues", target)
    return target


@pytest.fixture(scope="session")
def nlu_settings(fixture_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the fixture data set, with a model trained once for the session."""
    settings = make_settings(fixture_data_dir, tmp_path_factory.mktemp("nlu-models"))
    train(settings)
    return settings


@pytest.fixture(scope="session")
def interpreter(nlu_settings: Settings) -> Interpreter:
    """The interpreter for the fixture data set."""
    return load_interpreter(nlu_settings, auto_train=False)
