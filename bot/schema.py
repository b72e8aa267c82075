"""Every table of Kefu: imports each feature's models so that ``Base.metadata`` knows them all.

The store knows no feature, so this lives above it: whoever needs the whole schema (Alembic's
autogenerate through :func:`bot.store.migrate.alembic_config`, tests that empty every table)
imports this module. Features that add tables add their module here.
"""

from bot.agents import models as agents_models
from bot.evaluation import models as evaluation_models
from bot.fees import models as fees_models
from bot.followups import models as followups_models
from bot.notices import deliveries as notices_deliveries
from bot.notices import models as notices_models
from bot.records import models as records_models
from bot.staff import models as staff_models
from bot.store import deadletters
from bot.store import models as store_models
from bot.web import models as web_models

metadata = store_models.Base.metadata

__all__ = [
    "agents_models",
    "deadletters",
    "evaluation_models",
    "fees_models",
    "followups_models",
    "metadata",
    "notices_deliveries",
    "notices_models",
    "records_models",
    "staff_models",
    "store_models",
    "web_models",
]
