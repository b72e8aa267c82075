"""The agents' desk: one object per running bot that ties the takeover (database side) to
Telegram — the turn observer, the group updates, the group relay, the customer pump and the
follow-up handlers. Built by :func:`bot.agents.telegram.attach_agents`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Update

from bot.agents.alerts import ClaimCheck, GroupAlerts
from bot.agents.customers import CustomerPump
from bot.agents.group_commands import CommandHandler
from bot.agents.group_updates import GroupUpdates
from bot.agents.idle import CLAIM_IDLE, ClaimIdle
from bot.agents.menu import set_agent_menus
from bot.agents.observer import TurnObserver
from bot.agents.registry import supervisors
from bot.agents.relay import GroupRelay
from bot.agents.reopen import TOPIC_REOPEN, TopicReopen
from bot.agents.service import CLAIM_REMINDER, CLAIM_SUPERVISOR, EngineLike, Takeover
from bot.agents.staff_commands import staff_followup_handlers
from bot.clock import Clock
from bot.config import Settings
from bot.messages import OutboundMessage
from bot.store.db import Database

log = logging.getLogger(__name__)


class AgentDesk:
    """The human takeover on Telegram. Build with :func:`~bot.agents.telegram.attach_agents`.

    It plugs into the running bot in three places: ``engine.observers`` (:meth:`observe`,
    inside every customer turn), ``TelegramChannel.hooks`` (:meth:`on_update`, the agents'
    groups) and two background tasks (the group relay and the customer pump).
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        engine: EngineLike,
        clock: Clock,
        bot: Bot,
        channel: Any = None,
        *,
        commands: Mapping[str, CommandHandler] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.engine = engine
        self.clock = clock
        self.bot = bot
        self.commands: Mapping[str, CommandHandler] = dict(commands or {})
        self.takeover = Takeover(settings, db, engine, clock)
        self.relay = GroupRelay(db, bot, self.takeover, clock)
        self.customers = CustomerPump(settings, db)
        self.customers.channel = channel
        self.observer = TurnObserver(self)
        self.updates = GroupUpdates(self)
        self.group_ids = {g.chat_id for g in settings.agents.all_groups()}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def channel(self) -> Any:
        return self.customers.channel

    # ------------------------------------------------------------------ lifecycle

    def install(self, channel: Any) -> None:
        """Register the observer on the engine and the update hook on the channel."""
        self.customers.channel = channel
        channel.hooks.append(self.on_update)
        observers = getattr(self.engine, "observers", None)
        if observers is not None:
            observers.append(self.observe)

    async def start(self) -> None:
        """Check the groups, give them the agents' command menu, start relaying to them and
        delivering queued customer notices."""
        await self.check_groups()
        await set_agent_menus(
            self.bot, sorted(self.group_ids), self.engine.responses, self.takeover.language
        )
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self.relay.run_forever(self._stop), name="agents-relay"),
            asyncio.create_task(self.customers.run_forever(self._stop), name="agents-pump"),
        ]

    async def check_groups(self) -> list[str]:
        """Warn (and return why) when a group is not a forum or the bot cannot manage topics."""
        problems: list[str] = []
        for group in self.settings.agents.all_groups():
            try:
                chat = await self.bot.get_chat(group.chat_id)
                if not chat.is_forum:
                    problems.append(f"agents group {group.name} ({group.chat_id}) has no topics")
                member = await self.bot.get_chat_member(group.chat_id, self.bot.id)
                if not getattr(member, "can_manage_topics", False):
                    problems.append(
                        f"the bot is not an admin with 'Manage topics' in agents group "
                        f"{group.name} ({group.chat_id})"
                    )
            except Exception as exc:  # a start-up check: never stop the bot for it
                problems.append(f"agents group {group.name} ({group.chat_id}): {exc!r}")
        for problem in problems:
            log.warning("%s", problem)
        return problems

    async def stop(self) -> None:
        """Stop the background tasks."""
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        self._tasks = []

    # ------------------------------------------------------------------ the three plugs

    async def observe(self, turn: Any) -> None:
        """The engine observer (see :class:`~bot.agents.observer.TurnObserver`)."""
        await self.observer.observe(turn)

    async def on_update(self, update: Update, channel: Any = None) -> bool:
        """The channel hook (see :class:`~bot.agents.group_updates.GroupUpdates`)."""
        return await self.updates.on_update(update, channel)

    async def deliver_to_customer(self, outs: Sequence[OutboundMessage]) -> None:
        """Deliver messages stored for a customer (Telegram chats only; others keep them)."""
        await self.customers.deliver(outs)

    async def pump_once(self) -> int:
        """Deliver stored customer notices whose transaction has committed; returns count."""
        return await self.customers.pump_once()

    # ------------------------------------------------------------------ follow-ups and alerts

    def followup_handlers(self) -> dict[str, Any]:
        """Handlers for :class:`bot.followups.FollowupWorker`: claim reminders, then
        supervisors; a claimed chat nobody answers back to the queue; a reopened ticket's
        topic reopened."""
        handler = ClaimCheck(self)
        return {
            CLAIM_REMINDER: handler,
            CLAIM_SUPERVISOR: handler,
            CLAIM_IDLE: ClaimIdle(self),
            TOPIC_REOPEN: TopicReopen(self.takeover),  # a reopened ticket: its topic again
            **staff_followup_handlers(self),  # an assigned technician told in Telegram
        }

    def attach_followups(self, worker: Any) -> None:
        """Make a :class:`bot.followups.FollowupWorker` (e.g. ``App.followup_worker()``) post
        SLA alerts to the agents' groups and run the claim reminders."""
        from bot.followups.sla import sla_handlers

        worker.handlers.update(sla_handlers(self.alerts(), self.clock))
        worker.handlers.update(self.followup_handlers())

    def alerts(self) -> GroupAlerts:
        """The :class:`bot.followups.sla.Alerts` posting to the agents' groups."""
        return GroupAlerts(self)

    async def mentions(self, session: AsyncSession) -> tuple[str, list[list[Any]]]:
        """Supervisors for a group post: the text (``@username`` or name) and the mentions to
        link (so people without a username are notified too)."""
        people = await supervisors(session)
        text = " ".join(f"@{p.username}" if p.username else p.name for p in people) or "—"
        links = [[p.telegram_user_id, p.name] for p in people if not p.username]
        return text, links
