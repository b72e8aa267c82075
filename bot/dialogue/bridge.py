"""The bridge to rasa_sdk: actions run through the SDK's executor, in process.

An action sees the turn as a Rasa tracker (slots, the latest message with the turn's metadata,
the active loop) and answers with events and messages. The bridge applies the events to the
turn (slots, forms opened and closed, the queue, follow-up actions) and renders the messages
from dialogues/ in the user's language: actions never carry user-facing text themselves.
Forms and follow-ups go back through the :class:`~bot.dialogue.turn.TurnRunner`, so this module
knows neither the form loop nor the policy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rasa_sdk.executor import ActionExecutor

from bot.dialogue.turn import Knowledge, Turn, TurnRunner
from bot.events import OwnerChanged, publish
from bot.messages import OutboundMessage
from bot.store.models import Owner

log = logging.getLogger(__name__)

# Keys of an action's message that are not values for the response's template.
_MESSAGE_KEYS = {
    "text",
    "buttons",
    "elements",
    "custom",
    "template",
    "response",
    "image",
    "attachment",
}


class ActionBridge:
    """Runs responses and rasa_sdk actions for a turn and applies what they return."""

    def __init__(self, runner: TurnRunner, known: Knowledge, executor: ActionExecutor) -> None:
        self.runner = runner
        self.known = known
        self.executor = executor
        # Built once: every action call sends the whole domain.
        self._domain_dict = known.domain.as_rasa_dict()

    async def run_action(self, turn: Turn, name: str, **metadata: Any) -> bool:
        """Run a response (``utter_*``) or a registered action; apply its events.

        Returns ``False`` if the action reported it had nothing to do (an ``action_*`` may
        return a ``{"event": "action_execution_rejected"}`` event for that).
        """
        if name.startswith("utter_") and name not in self.known.action_names:
            self.utter(turn, name)
            return True
        if name not in self.known.action_names:
            log.error("unknown action %s", name)
            self.utter(turn, "utter_internal_error")
            return False
        events = await self.execute(turn, name, metadata=metadata)
        return await self.apply(turn, events)

    async def execute(
        self,
        turn: Turn,
        name: str,
        *,
        extra_events: Sequence[dict[str, Any]] = (),
        slots: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Run action ``name`` on the turn seen as a tracker; queue its messages and return its
        events unapplied (a validator's are read by the form loop). ``slots`` replaces the
        turn's slots in the tracker, ``extra_events`` are appended to its events."""
        latest = dict(turn.parse) if turn.parse else {"text": "", "intent": {}, "entities": []}
        latest["metadata"] = {
            "conversation_id": turn.conversation.id,
            "contact_id": turn.contact.id,
            "channel": turn.channel,
            "chat_id": turn.conversation.chat_id,
            "now": turn.now.isoformat(),
            **(metadata or {}),
        }
        tracker = {
            "sender_id": f"{turn.channel}:{turn.conversation.chat_id}",
            "slots": dict(slots if slots is not None else turn.slots),
            "latest_message": latest,
            "events": [e for e in turn.events if e.get("event") == "user"][-1:]
            + list(extra_events),
            "paused": turn.conversation.owner != Owner.BOT,
            "followup_action": None,
            "active_loop": {"name": turn.active_form} if turn.active_form else {},
            "latest_action_name": None,
            "latest_input_channel": turn.channel,
        }
        result = await self.executor.run(
            {"next_action": name, "tracker": tracker, "domain": self._domain_dict}
        )
        if result is None:
            return []
        event: dict[str, Any] = {"event": "action", "name": name}
        if metadata:
            event["metadata"] = metadata
        turn.events.append(event)
        for message in result.responses:
            self._utter_message(turn, message)
        if result.responses and name.startswith("validate_"):
            turn.state["validation_uttered"] = True
        return list(result.events)

    async def apply(self, turn: Turn, events: list[dict[str, Any]]) -> bool:
        """Apply an action's events to the turn, in order; ``False`` if one rejected it."""
        handled = True
        for event in events:
            kind = event.get("event")
            turn.events.append(event)
            if kind == "slot":
                turn.slots[event["name"]] = event.get("value")
                if event["name"] == "language":
                    turn.state["language_known"] = True
            elif kind == "active_loop":
                if event.get("name") is None:
                    self.runner.deactivate_form(turn)
                elif event["name"] in self.known.domain.forms:
                    await self.runner.activate_form(turn, event["name"])
            elif kind == "pause":
                await self.set_owner(turn, Owner.QUEUE)
            elif kind == "resume":
                await self.set_owner(turn, Owner.BOT)
            elif kind == "reset_slots":
                language = turn.slots.get("language")
                turn.slots = {"language": language}
            elif kind == "action_execution_rejected":
                handled = False
            elif kind == "followup":
                await self.runner.run_action(turn, str(event.get("name")))
        return handled

    async def set_owner(self, turn: Turn, owner: Owner) -> None:
        """Queue the chat (a hand-over) or give it back to the bot (leaving the queue) inside
        the turn, raising :class:`~bot.events.OwnerChanged` in the turn's transaction as
        ``Engine.set_owner`` does, so listeners hear of every change of hands, once."""
        conversation = turn.conversation
        changed = conversation.owner != owner
        conversation.owner = owner
        conversation.queued_at = turn.now if owner == Owner.QUEUE else None
        if changed:
            await publish(turn.session, OwnerChanged(conversation.id, str(owner), turn.now))

    def utter(self, turn: Turn, response: str, **values: Any) -> None:
        """Queue response ``response`` in the user's language."""
        message = self.known.responses.render(response, turn.language, self._values(turn, values))
        if message is not None:
            if message.buttons:
                turn.state["choices"] = response
            turn.replies.append(message)
            turn.events.append(
                {"event": "bot", "text": message.text, "metadata": {"response": response}}
            )

    def _utter_message(self, turn: Turn, message: dict[str, Any]) -> None:
        """A message an action sent through the dispatcher."""
        values = self._values(turn, {k: v for k, v in message.items() if k not in _MESSAGE_KEYS})
        name = message.get("response")
        if name:
            variation = self.known.responses.variation(name, turn.language)
            if variation is None:
                log.error("action used missing response %s", name)
                return
            base = dict(variation)
            out = self.known.responses.build(
                base, turn.language, values, extra_buttons=message.get("buttons")
            )
        else:
            # Actions never carry user-facing text themselves; accept only data-only messages
            # (e.g. an image) and FAQ texts the action looked up in dialogues/.
            out = self.known.responses.build(message, turn.language, values)
        if message.get("image"):
            out = OutboundMessage(
                text=out.text,
                buttons=out.buttons,
                images=out.images or (),
                request_contact=out.request_contact,
            )
        if name and out.buttons:
            turn.state["choices"] = name
        turn.replies.append(out)
        turn.events.append({"event": "bot", "text": out.text, "metadata": {"response": name}})

    def _values(self, turn: Turn, values: dict[str, Any]) -> dict[str, Any]:
        merged = {k: v for k, v in turn.slots.items() if isinstance(v, str | int | float)}
        merged.update(values)
        return merged
