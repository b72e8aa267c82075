"""``/resolve TEXT`` and ``/release TEXT`` are internal notes (audited, never sent to the
customer, who gets the standard texts), ``/help`` says so, and "/" in the agents' group shows
the agents' commands while customers keep theirs."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.agents.models import TopicState
from bot.store.models import ConversationEvent, Owner, Ticket, TicketEvent, TicketStatus
from tests.agents.support import GROUP, Harness

PRIVATE = "tenant is difficult, landlord pays 50%"


async def _events(harness: Harness, ticket: Ticket, action: str) -> list[dict]:
    async with harness.app.db.session() as session:
        rows = await session.execute(
            select(TicketEvent.data).where(
                TicketEvent.ticket_id == ticket.id, TicketEvent.action == action
            )
        )
        return list(rows.scalars())


async def _notes(harness: Harness) -> list[dict]:
    async with harness.app.db.session() as session:
        rows = await session.execute(
            select(ConversationEvent.data).where(ConversationEvent.event == "agent_note")
        )
        return list(rows.scalars())


async def test_resolve_text_is_an_internal_note(harness: Harness) -> None:
    alice = await harness.register(7001, "Alice")
    customer = harness.api.user(590, "Lam", language_code="en")
    ticket, thread = await harness.claimed_repair(customer, alice)
    await harness.feed(harness.api.group_update(alice, GROUP, "Valve replaced", thread_id=thread))
    await harness.feed(
        harness.api.group_update(alice, GROUP, f"/resolve {PRIVATE}", thread_id=thread)
    )
    texts = harness.to_customer(customer)
    assert texts[-2] == "Alice: Valve replaced"  # what the agent wrote to the customer
    assert texts[-1] == "Alice has marked your case as resolved. Thank you for your patience."
    assert not any("landlord" in t or "difficult" in t for t in texts)
    async with harness.app.db.session() as session:
        fresh = await session.get(Ticket, ticket.id)
    assert fresh is not None and fresh.status == TicketStatus.RESOLVED
    assert [e["note"] for e in await _events(harness, ticket, "resolved")] == [PRIVATE]
    assert [(n["text"], n["on"]) for n in await _notes(harness)] == [(PRIVATE, "resolved")]


async def test_release_text_is_an_internal_note(harness: Harness) -> None:
    alice = await harness.register(7001, "Alice")
    customer = harness.api.user(591, "Ho", language_code="en")
    ticket, thread = await harness.claimed_repair(customer, alice)
    await harness.feed(
        harness.api.group_update(alice, GROUP, f"/release {PRIVATE}", thread_id=thread)
    )
    texts = harness.to_customer(customer)
    assert not any("landlord" in t or "difficult" in t for t in texts)
    assert "Alice" in texts[-1]
    assert (await harness.conversation(customer.id)).owner == Owner.BOT
    [topic] = await harness.topics()
    assert topic.state == TopicState.RELEASED
    assert [e["note"] for e in await _events(harness, ticket, "released")] == [PRIVATE]
    assert [(n["text"], n["on"]) for n in await _notes(harness)] == [(PRIVATE, "released")]


async def test_help_calls_resolve_and_release_arguments_internal(harness: Harness) -> None:
    alice = await harness.register(7001, "Alice")
    await harness.feed(harness.api.group_update(alice, GROUP, "/help"))
    await harness.relay()
    help_text = str(harness.group_calls()[-1].params["text"])
    assert "/release [備註]" in help_text and "/resolve [備註]" in help_text
    assert "客人看不到" in help_text and "摘要" not in help_text


async def test_agents_group_gets_the_agents_menu_customers_keep_theirs(harness: Harness) -> None:
    await harness.tg.channel.set_commands()  # the customers' menus, as at start
    await harness.desk.start()
    await harness.desk.stop()
    commands = harness.api.commands
    group_scope = json.dumps({"chat_id": GROUP, "type": "chat"}, sort_keys=True)
    agents = {c["command"]: c["description"] for c in commands[(group_scope, "")]}
    assert list(agents) == ["claim", "note", "resolve", "release", "assign", "queue", "mine",
                            "contact", "callback", "category", "priority", "technician",
                            "cancel", "close", "confirm", "help"]  # fmt: skip
    assert agents["note"] == "內部備註（客人看不到）"  # agents.language: the office's
    default = [c["command"] for c in commands[(json.dumps({"type": "default"}), "")]]
    assert "mytickets" in default and "resolve" not in default
    private = [key for key in commands if '"chat"' in key[0] and str(GROUP) not in key[0]]
    assert private == []  # no customer chat got the agents' menu
