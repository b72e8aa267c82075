"""Ownership of escalated conversations, in the database only (no Telegram here).

:class:`Takeover` is the one object the agents' desk uses: :class:`~bot.agents.core.TakeoverCore`
(texts, group outbox, lookups) with :class:`~bot.agents.escalation.Escalations` (into the queue:
topic, card, claim reminders, earlier photos) and :class:`~bot.agents.transitions.Transitions`
(claim, assign, release, resolve, the customer leaving). The names below are importable from here
as before.
"""

from __future__ import annotations

from bot.agents.core import (
    CLAIM_REMINDER,
    CLAIM_SUPERVISOR,
    HIDDEN_SLOTS,
    EngineLike,
    Outcome,
    queue_post,
)
from bot.agents.escalation import Escalations, typed_reason
from bot.agents.transitions import Transitions

__all__ = [
    "CLAIM_REMINDER",
    "CLAIM_SUPERVISOR",
    "HIDDEN_SLOTS",
    "EngineLike",
    "Outcome",
    "Takeover",
    "queue_post",
    "typed_reason",
]


class Takeover(Escalations, Transitions):
    """Escalations and ownership transitions (database side)."""
