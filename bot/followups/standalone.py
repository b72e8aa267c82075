"""``kefu followups work``: the follow-up worker as a process of its own.

Every ``kefu run`` already runs a follow-up worker (PTB's JobQueue wakes it every
``sla.poll_interval``), and any number of workers share the work through leases in the
database. A separate worker is for an office that wants follow-ups handled while no bot runs
(a long Telegram outage, maintenance), or on a machine of its own.

What it may do without Telegram decides what it claims: call-back surveys only write the
question to the outbox (``kefu run`` sends it with its outbox sweep, or at its next start), so
it always takes them. Staff alerts (SLA warnings, breaches, emergencies, rework, phone
call-backs) are posted to the agents' groups when groups are configured, which only
``kefu run`` can do; this worker then leaves them alone instead of only logging them.
Without groups, ``kefu run`` logs them too, and so does this worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.followups.sla import LoggingAlerts, sla_handlers
from bot.followups.survey import survey_handlers
from bot.followups.worker import FollowupHandler, FollowupWorker

if TYPE_CHECKING:
    from bot.app import App


def standalone_worker(app: App) -> FollowupWorker:
    """A worker that claims only the follow-ups it can fully handle without Telegram."""
    handlers: dict[str, FollowupHandler] = dict(survey_handlers(app.engine))
    if not app.settings.agents.all_groups():
        handlers.update(sla_handlers(LoggingAlerts(), app.clock))
    return FollowupWorker(app.db, app.settings, app.clock, handlers)
