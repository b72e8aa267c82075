"""The agents' side in Telegram: escalations become forum topics with a card; agents claim,
answer, note, resolve, release and assign from there.

This module wires it together: :func:`command_handlers` lists every agents' group command
(the one place to register a new one) and :func:`attach_agents` builds the
:class:`~bot.agents.desk.AgentDesk` into a running bot. The parts, one idea each:

* :mod:`bot.agents.observer` — inside every customer turn: escalate, relay, leave the queue;
* :mod:`bot.agents.group_updates` / :mod:`bot.agents.group_commands` — the agents' groups;
* :mod:`bot.agents.relay`, :mod:`bot.agents.group_send`, :mod:`bot.agents.topics` — the group
  outbox under Telegram's limit, and the forum topics;
* :mod:`bot.agents.customers` — customer notices delivered after their transaction;
* :mod:`bot.agents.alerts` — claim reminders and SLA alerts in the groups.
"""

from __future__ import annotations

from typing import Any

from bot.agents import group_commands as cmd
from bot.agents import staff_commands as staff
from bot.agents.alerts import ClaimCheck, GroupAlerts
from bot.agents.desk import AgentDesk
from bot.agents.group_commands import CommandHandler
from bot.config import Settings
from bot.events import EscalationReason

__all__ = [
    "COMMANDS",
    "REASONS",
    "AgentDesk",
    "ClaimCheck",
    "GroupAlerts",
    "attach_agents",
    "command_handlers",
]

REASONS = tuple(str(r) for r in EscalationReason)


def command_handlers() -> dict[str, CommandHandler]:
    """Every command of the agents' groups, by name (anything else answers ``/help``)."""
    return {
        "claim": cmd.claim,
        "note": cmd.note,
        "resolve": cmd.resolve,
        "release": cmd.release,
        "assign": staff.assign_agent_or_technician,  # an agent, or a technician (issue 14)
        "queue": cmd.show_queue,
        "mine": cmd.show_mine,
        "help": cmd.show_help,
        "confirm": cmd.confirm_payment,  # finance confirms a payment proof (issue 15)
        # Staff actions on the topic's ticket, the same as `kefu staff` (issue 14).
        **{name: staff.staff_command(name) for name in sorted(staff.COMMANDS)},
    }


COMMANDS = tuple(command_handlers())


def attach_agents(bot: Any, app: Any) -> AgentDesk | None:
    """Wire the takeover into a :class:`bot.channels.telegram.TelegramBot` built on ``app``
    (:class:`bot.app.App`); ``None`` when no agent group is configured. Call ``start()``."""
    settings: Settings = app.settings
    if not settings.agents.all_groups():
        return None
    desk = AgentDesk(settings, app.db, app.engine, app.clock, bot.bot, commands=command_handlers())
    desk.install(bot.channel)
    return desk
