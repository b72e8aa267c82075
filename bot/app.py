"""Assembling Kefu: settings -> store, NLU, actions, engine. Channels receive an :class:`App`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.actions import build_executor, runtime
from bot.agents.order_alerts import OrderLockAlerts
from bot.agents.reopen import reopen_topic_listener
from bot.agents.requests import escalation_request_listener
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.dialogue.domain import Domain, load_domain
from bot.dialogue.engine import ConversationBusy, Engine, Interpreter
from bot.evaluation.sending import attach_evaluation
from bot.events import (
    Escalated,
    EventBus,
    SurveyAnswered,
    TicketReopened,
    TicketResolved,
    install,
)
from bot.fees.sending import attach_fee_collection
from bot.followups import FollowupHandler, FollowupWorker
from bot.followups.sla import Alerts, LoggingAlerts, sla_handlers
from bot.followups.survey import survey_handlers
from bot.notices.service import notice_handlers
from bot.staff import lifecycle as staff_lifecycle
from bot.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything a channel or worker needs, built once per process."""

    settings: Settings
    db: Database
    domain: Domain
    interpreter: Interpreter
    engine: Engine
    clock: Clock

    async def close(self) -> None:
        await self.db.dispose()

    def followup_worker(self, alerts: Alerts | None = None) -> FollowupWorker:
        """A worker for every follow-up kind: surveys to customers, SLA alerts to staff."""
        handlers: dict[str, FollowupHandler] = {}
        handlers.update(sla_handlers(alerts or LoggingAlerts(), self.clock))
        handlers.update(self._survey_handlers())
        handlers.update(notice_handlers(self.settings, self.clock))
        return self._with_campaigns(FollowupWorker(self.db, self.settings, self.clock, handlers))

    def standalone_followup_worker(self) -> FollowupWorker:
        """``kefu followups work``: a worker that claims only what it can fully handle without
        Telegram.

        Every ``kefu run`` already runs a follow-up worker (PTB's JobQueue wakes it every
        ``sla.poll_interval``), and any number of workers share the work through leases in the
        database. A separate worker is for an office that wants follow-ups handled while no bot
        runs (a long Telegram outage, maintenance), or on a machine of its own.

        What it may do without Telegram decides what it claims: call-back surveys only write
        the question to the outbox (``kefu run`` sends it with its outbox sweep, or at its next
        start), so it always takes them. Staff alerts (SLA warnings, breaches, emergencies,
        rework, phone call-backs) are posted to the agents' groups when groups are configured,
        which only ``kefu run`` can do; this worker then leaves them alone instead of only
        logging them. Without groups, ``kefu run`` logs them too, and so does this worker.
        """
        handlers: dict[str, FollowupHandler] = dict(self._survey_handlers())
        handlers.update(notice_handlers(self.settings, self.clock))  # expanding needs no bot
        if not self.settings.agents.all_groups():
            handlers.update(sla_handlers(LoggingAlerts(), self.clock))
        return self._with_campaigns(FollowupWorker(self.db, self.settings, self.clock, handlers))

    def _with_campaigns(self, worker: FollowupWorker) -> FollowupWorker:
        # Fee reminders, the thanks after a confirmed payment and the owner evaluation only
        # write to the outbox (the evaluation opens its form there).
        attach_fee_collection(worker, self.engine, self.settings, self.clock)
        # The quarterly owner evaluation opens its form through the engine, like the survey.
        attach_evaluation(worker, self.engine, (ConversationBusy,), self.settings, self.clock)
        return worker

    def _survey_handlers(self) -> dict[str, FollowupHandler]:
        # The engine asks the survey; follow-ups know it only as a FormStarter.
        handlers: dict[str, FollowupHandler] = dict(
            survey_handlers(self.engine, busy=(ConversationBusy,))
        )
        handlers.update(staff_lifecycle.complaint_handlers(self.engine))  # complaint outcomes
        return handlers


def build_events(settings: Settings) -> EventBus:
    """Every listener of the domain events, in one place. Each runs inside the transaction
    that raised its event; one that talks to the outside writes a durable row instead."""
    bus = EventBus()
    # A reopened ticket (kefu tickets reopen, a bad survey) reopens its agents' topic.
    bus.subscribe(TicketReopened, reopen_topic_listener(settings))
    # Issue 14: a good call-back closes; a new resolution clears the old answer; a resolved
    # complaint tells the complainant and asks them back; an unsatisfied one alerts supervisors.
    bus.subscribe(SurveyAnswered, staff_lifecycle.close_after_good_callback(settings))
    bus.subscribe(TicketResolved, staff_lifecycle.after_resolution(settings))
    bus.subscribe(TicketReopened, staff_lifecycle.alert_unsatisfied_complainant(settings))
    # A hand-over or a bad survey asked for a person: the agents' desk opens the topic.
    bus.subscribe(Escalated, escalation_request_listener(settings))
    return bus


def install_events(db: Database, settings: Settings) -> EventBus:
    """Make every session of ``db`` raise events to this process's listeners. Any process
    that changes tickets (the app, ``kefu tickets``) does this before its first write."""
    bus = build_events(settings)
    install(db.sessionmaker, bus)
    return bus


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    interpreter: Interpreter | None = None,
    migrate: bool | None = None,
) -> App:
    """Build the app. Migrates the database first (always on SQLite, else if configured)."""
    from bot.nlu import load_interpreter

    clock = clock or SystemClock(settings.tz)
    db = Database(
        settings.database.url,
        echo=settings.database.echo,
        pool_size=settings.database.pool_size,
        pool_pre_ping=settings.database.pool_pre_ping,
    )
    if migrate if migrate is not None else (db.is_sqlite or settings.database.auto_migrate):
        db.upgrade()
    install_events(db, settings)
    domain = load_domain(settings.dialogues_dir)
    interpreter = interpreter or load_interpreter(settings)
    runtime.configure(
        runtime.Services(
            settings=settings, db=db, clock=clock, order_alert=OrderLockAlerts(settings, clock)
        )
    )
    executor = build_executor()
    engine = Engine(
        settings=settings,
        db=db,
        domain=domain,
        interpreter=interpreter,
        executor=executor,
        clock=clock,
    )
    return App(
        settings=settings, db=db, domain=domain, interpreter=interpreter, engine=engine, clock=clock
    )
