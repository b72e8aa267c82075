"""Issue 12: every change of hands raises OwnerChanged once — not only ``Engine.set_owner``
(claims, releases, re-queues) but also the turn that queues the chat on a hand-over and the
turn in which the customer leaves the queue, in that turn's transaction."""

from __future__ import annotations

from typing import Any

from bot.events import SESSION_KEY, EventBus, OwnerChanged
from bot.store.models import Owner
from tests.agents.support import Harness


def _record(harness: Harness) -> list[tuple[str, Any]]:
    """The OwnerChanged events raised from now on: (owner, conversation id)."""
    bus = harness.app.db.sessionmaker.kw["info"][SESSION_KEY]
    assert isinstance(bus, EventBus)
    raised: list[tuple[str, Any]] = []

    async def record(session: Any, event: OwnerChanged) -> None:
        raised.append((event.owner, event.conversation_id))

    bus.subscribe(OwnerChanged, record)
    return raised


async def test_hand_over_and_leaving_the_queue_each_raise_owner_changed_once(
    harness: Harness,
) -> None:
    raised = _record(harness)
    await harness.register(7200, "Alice")
    customer = harness.api.user(564, "Wong", language_code="en")
    await harness.say(customer, "/lang en")
    assert raised == []

    await harness.say(customer, "/agent")
    await harness.say(customer, "anyone there?")  # still queued: no change of hands
    await harness.relay()  # the topic is opened; the chat is already queued
    conversation = await harness.conversation(customer.id)
    assert conversation.owner == Owner.QUEUE
    assert raised == [(Owner.QUEUE, conversation.id)]

    await harness.say(customer, "/cancel")
    await harness.relay()
    conversation = await harness.conversation(customer.id)
    assert conversation.owner == Owner.BOT
    assert raised == [(Owner.QUEUE, conversation.id), (Owner.BOT, conversation.id)]

    await harness.say(customer, "/cancel")  # nothing to leave: the bot owns the chat already
    assert raised == [(Owner.QUEUE, conversation.id), (Owner.BOT, conversation.id)]
