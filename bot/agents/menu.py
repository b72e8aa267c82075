"""The agents' command menu: "/" in an agents' group shows the agents' commands.

Telegram shows the bot's default menu (the customers' /start /help /mytickets ...) in every
chat unless a narrower scope says otherwise, so each agents' group gets its own menu with
``BotCommandScopeChat``; private chats keep the customers' menus. Descriptions are
``utter_agents_command_<name>`` in ``dialogues/agents.yml``, in the agents' language.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.dialogue.responses import Responses

log = logging.getLogger(__name__)

AGENT_MENU = (
    "claim",
    "note",
    "resolve",
    "release",
    "assign",
    "queue",
    "mine",
    # staff actions on the topic's ticket (bot.agents.staff_commands)
    "contact",
    "callback",
    "category",
    "priority",
    "technician",
    "cancel",
    "close",
    # finance confirms a payment proof (bot.fees.group)
    "confirm",
    "help",
)


def agent_command_menu(responses: Responses, language: str) -> list[BotCommand]:
    """The agents' commands with their descriptions in ``language``."""
    return [
        BotCommand(name, responses.text(f"utter_agents_command_{name}", language)[:256] or name)
        for name in AGENT_MENU
    ]


async def set_agent_menus(
    bot: Bot, group_ids: Iterable[int], responses: Responses, language: str
) -> list[int]:
    """Give every agents' group the agents' menu; returns the groups set (failures logged:
    a menu is a convenience, never a reason to stop the bot)."""
    menu = agent_command_menu(responses, language)
    done = []
    for chat_id in group_ids:
        try:
            await bot.set_my_commands(menu, scope=BotCommandScopeChat(chat_id))
            done.append(chat_id)
        except TelegramError as exc:
            log.warning("agents' command menu of group %s not set: %s", chat_id, exc)
    return done
