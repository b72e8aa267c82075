"""Imports every module that defines tables, so ``Base.metadata`` knows them all.

Features that add tables add their module here (Alembic autogenerate and tests rely on it).
"""

from bot.agents import models as agents_models  # noqa: F401
from bot.followups import models as followups_models  # noqa: F401
from bot.records import models as records_models  # noqa: F401
from bot.store import models  # noqa: F401
