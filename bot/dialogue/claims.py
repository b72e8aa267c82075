"""The claims a channel holds while it delivers stored outbound rows.

Every send of a stored row goes through one claim (see :mod:`bot.dialogue.outbox`): a turn's
replies come claimed (``meta["claim"]`` holds the token), anything else is claimed here before
it is sent. :class:`Claims` keeps the tokens of one delivery, renews a lease that is getting
old (a slow chat under rate limits), and gives back what was not sent so that the next sender
need not wait for the lease to run out.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from bot.messages import OutboundMessage

log = logging.getLogger(__name__)

# How long a claim holds a row for its sender. A sender that takes longer renews it; a claim
# whose process died is taken over this long after it was made (nothing is lost, it is late).
SEND_LEASE = timedelta(minutes=2)


def claim_token() -> str:
    """A new claim token: the process id (for whoever reads the table) and a random part."""
    return f"{os.getpid()}:{uuid.uuid4().hex[:16]}"


def claimed(out: OutboundMessage) -> str | None:
    """The claim token a stored outbound message was handed out with, if any."""
    token = out.meta.get("claim")
    return token if isinstance(token, str) else None


class ClaimingOutbox(Protocol):
    """What :class:`Claims` needs from the engine's outbox."""

    async def claim(self, ids: Sequence[int]) -> tuple[str, set[int]]: ...

    async def renew(self, token: str, ids: Sequence[int]) -> set[int]: ...

    async def release(self, token: str, ids: Sequence[int]) -> None: ...


class Claims:
    """The rows one delivery holds, by id, with their tokens."""

    def __init__(self, outbox: ClaimingOutbox, lease: timedelta = SEND_LEASE) -> None:
        self.outbox = outbox
        self._renew_after = lease.total_seconds() / 2
        self._held: dict[int, str] = {}
        self._since: dict[str, float] = {}

    async def take(self, outs: Sequence[OutboundMessage]) -> list[OutboundMessage]:
        """The messages this delivery may send: those handed out claimed, those it claims now
        (one statement), and unstored ones; a row another sender holds is left out."""
        now = time.monotonic()
        unclaimed = []
        for out in outs:
            token = claimed(out)
            if out.id is None:
                continue
            if token is None:
                unclaimed.append(out.id)
            else:
                self._held[out.id] = token
                self._since.setdefault(token, now)
        if unclaimed:
            token, mine = await self.outbox.claim(unclaimed)
            self._since[token] = time.monotonic()
            for row_id in mine:
                self._held[row_id] = token
        return [out for out in outs if out.id is None or out.id in self._held]

    async def still_ours(self, out: OutboundMessage) -> bool:
        """Whether ``out`` may be sent now: renews its claim (and the others under the same
        token) once half the lease has passed; False when someone else took it over."""
        if out.id is None:
            return True
        token = self._held.get(out.id)
        if token is None:
            return False
        if time.monotonic() - self._since.get(token, 0.0) < self._renew_after:
            return True
        ids = [row_id for row_id, t in self._held.items() if t == token]
        kept = await self.outbox.renew(token, ids)
        self._since[token] = time.monotonic()
        for row_id in ids:
            if row_id not in kept:
                log.warning("outbound message %s was taken over by another sender", row_id)
                del self._held[row_id]
        return out.id in kept

    def done(self, out: OutboundMessage) -> None:
        """``out`` was sent (or settled otherwise): never give it back."""
        if out.id is not None:
            self._held.pop(out.id, None)

    def done_all(self) -> None:
        """Everything held was settled (e.g. the chat blocked the bot)."""
        self._held.clear()

    async def give_back(self) -> None:
        """Release what is still held (not sent): sendable again at once. Best effort: if
        the store is down, the leases run out instead."""
        by_token: dict[str, list[int]] = {}
        for row_id, token in self._held.items():
            by_token.setdefault(token, []).append(row_id)
        self._held.clear()
        for token, ids in by_token.items():
            try:
                await self.outbox.release(token, ids)
            except Exception as exc:  # the lease expires instead
                log.debug("claims on %s not released: %s", ids, exc)
