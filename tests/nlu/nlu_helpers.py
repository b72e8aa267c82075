"""Constants and helpers shared by the NLU tests (a plain module: tests/ is not a package)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings, load_settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Hong_Kong")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=TZ)  # a Friday, like the shared `clock` fixture


def make_settings(dialogues: Path, models: Path, **nlu: object) -> Settings:
    """Settings on a given data folder and model folder, ignoring the environment."""
    return load_settings(
        None,
        environ={},
        dialogues_dir=str(dialogues),
        models_dir=str(models),
        nlu={"auto_train": False, **nlu},
    )
