"""Every agents' group command is in the group's "/" menu and in /help, in each language:
/confirm (finance, issue #15) and the staff actions (issue #14) included."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.agents.menu import AGENT_MENU, agent_command_menu, set_agent_menus
from bot.agents.telegram import COMMANDS
from bot.dialogue.responses import Responses
from tests.agents.support import GROUP, Harness

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def responses() -> Responses:
    from bot.dialogue.domain import load_domain

    return Responses(load_domain(ROOT / "dialogues").responses, "zh-Hant")


@pytest.mark.parametrize("language", ["zh-Hant", "zh-Hans", "en"])
def test_every_command_is_in_the_menu_and_the_help(responses: Responses, language: str) -> None:
    assert set(AGENT_MENU) == set(COMMANDS)
    menu = {c.command: c.description for c in agent_command_menu(responses, language)}
    help_text = responses.text("utter_agents_help", language)
    for name in COMMANDS:
        assert menu[name] and menu[name] != name, name  # described, not the bare name
        assert f"/{name}" in help_text or name == "help", name
    assert len(help_text) < 4096


async def test_the_group_gets_the_menu_and_help_names_confirm(harness: Harness) -> None:
    desk = harness.desk
    await set_agent_menus(desk.bot, [GROUP], desk.engine.responses, desk.takeover.language)
    [menu] = harness.api.calls_to("setMyCommands", scope={"type": "chat", "chat_id": GROUP})
    names = [c["command"] for c in menu.params["commands"]]
    assert "confirm" in names and "callback" in names and names[-1] == "help"
    alice = await harness.register(801, "Alice")
    await harness.feed(harness.api.group_update(alice, GROUP, "/help"))
    await harness.relay()
    [answer] = [
        str(c.params["text"]) for c in harness.group_calls() if "/confirm" in str(c.params["text"])
    ]
    assert "/confirm P-" in answer and "/callback" in answer
