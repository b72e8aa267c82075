"""Every table of Kefu: imports each feature's models so that ``Base.metadata`` knows them all.

The store knows no feature, so this lives above it: whoever needs the whole schema (Alembic's
autogenerate through :func:`bot.store.migrate.alembic_config`, tests that empty every table)
imports this module. Features that add tables add their module here.
"""

from bot.agents import models as agents_models
from bot.followups import models as followups_models
from bot.notices import deliveries as notices_deliveries
from bot.notices import models as notices_models
from bot.records import models as records_models
from bot.store import deadletters
from bot.store import models as store_models

metadata = store_models.Base.metadata

__all__ = [
    "agents_models",
    "deadletters",
    "followups_models",
    "metadata",
    "notices_deliveries",
    "notices_models",
    "records_models",
    "store_models",
]
