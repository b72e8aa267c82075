"""A ticket's SLA state, typed: what ``Ticket.sla`` (a JSON column) holds, and the operations
that change it.

Five modules used to edit the column as a loose dict (``sla["pauses"][-1]["to"] = ...``); each
knew the keys and the ISO formats. Now they load a :class:`SlaState`, call a named operation
(:meth:`~SlaState.apply`, :meth:`~SlaState.pause`, :meth:`~SlaState.resume`,
:meth:`~SlaState.callback_answered`, :meth:`~SlaState.order_rework`) and store it back with
:meth:`~SlaState.save`. The JSON is exactly what it was, so stored tickets read as before and
nothing needs migrating; keys this module does not know are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from bot.sla.policies import Deadlines

Which = Literal["first_response", "resolution", "callback"]
WHICH: tuple[Which, ...] = ("first_response", "resolution", "callback")


def iso(dt: datetime) -> str:
    """The stored form of an instant: ISO 8601 in UTC."""
    return dt.astimezone(UTC).isoformat()


def parse_instant(value: Any) -> datetime | None:
    """A stored instant back (naive values are UTC); None for an empty value."""
    if not value:
        return None
    dt = datetime.fromisoformat(str(value))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class Pause:
    """The SLA clock stopped from ``start`` to ``end`` (None: still stopped)."""

    start: datetime
    end: datetime | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": iso(self.start), "to": iso(self.end) if self.end else None}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass
class Rework:
    """A rework order raised at call-back: due by ``due`` because of ``reason``."""

    due: datetime
    reason: str
    at: datetime | None = None  # when it was ordered (kept in the history, ``reworks``)

    def to_json(self, *, with_time: bool) -> dict[str, Any]:
        head = {"at": iso(self.at)} if with_time and self.at is not None else {}
        return {**head, "due": iso(self.due), "reason": self.reason}


@dataclass
class Change:
    """Staff changed what the deadlines depend on (category, priority): kept so that
    ``kefu sla show`` can say why the deadlines are what they are now."""

    at: datetime
    what: str  # "category" or "priority"
    old: str | None
    new: str | None
    reason: str
    actor: str

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "what": self.what,
            "from": self.old,
            "to": self.new,
            "reason": self.reason,
            "actor": self.actor,
        }


@dataclass
class SlaState:
    """Everything ``Ticket.sla`` records; ``due_*`` and ``sla_paused_at`` stay columns."""

    # Per deadline, the JSON of :meth:`bot.sla.policies.Deadline.as_json` (why it is what it is).
    deadlines: dict[Which, dict[str, Any]] = field(default_factory=dict)
    computed_at: datetime | None = None
    pauses: list[Pause] = field(default_factory=list)
    callback_done_at: datetime | None = None
    rework: Rework | None = None
    reworks: list[Rework] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    other: dict[str, Any] = field(default_factory=dict)  # keys from elsewhere, kept

    # --- reading and writing the column --------------------------------------------------

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SlaState:
        """The state stored in ``Ticket.sla`` (an empty one for a new ticket)."""
        data = dict(data or {})
        state = cls()
        for which in WHICH:
            if isinstance(data.get(which), dict):
                state.deadlines[which] = dict(data.pop(which))
        state.computed_at = parse_instant(data.pop("computed_at", None))
        for item in data.pop("pauses", None) or []:
            start = parse_instant(item.get("from"))
            if start is not None:
                state.pauses.append(Pause(start, parse_instant(item.get("to")), item.get("reason")))
        state.callback_done_at = parse_instant(data.pop("callback_done_at", None))
        rework = data.pop("rework", None)
        if isinstance(rework, dict) and (due := parse_instant(rework.get("due"))) is not None:
            state.rework = Rework(due, str(rework.get("reason", "")))
        for item in data.pop("reworks", None) or []:
            if (due := parse_instant(item.get("due"))) is not None:
                at = parse_instant(item.get("at"))
                state.reworks.append(Rework(due, str(item.get("reason", "")), at))
        for item in data.pop("changes", None) or []:
            if (at := parse_instant(item.get("at"))) is not None:
                state.changes.append(
                    Change(
                        at,
                        str(item.get("what", "")),
                        item.get("from"),
                        item.get("to"),
                        str(item.get("reason", "")),
                        str(item.get("actor", "")),
                    )
                )
        state.other = data
        return state

    @classmethod
    def of(cls, ticket: Any) -> SlaState:
        """The SLA state of ``ticket`` (anything with an ``sla`` dict)."""
        return cls.from_json(getattr(ticket, "sla", None))

    def to_json(self) -> dict[str, Any]:
        """The JSON for ``Ticket.sla``: the same keys and formats as ever."""
        out: dict[str, Any] = dict(self.other)
        if self.pauses:
            out["pauses"] = [p.to_json() for p in self.pauses]
        if self.callback_done_at is not None:
            out["callback_done_at"] = iso(self.callback_done_at)
        if self.rework is not None:
            out["rework"] = self.rework.to_json(with_time=False)
        if self.reworks:
            out["reworks"] = [r.to_json(with_time=True) for r in self.reworks]
        if self.changes:
            out["changes"] = [c.to_json() for c in self.changes]
        for which in WHICH:
            if which in self.deadlines:
                out[which] = self.deadlines[which]
        if self.computed_at is not None:
            out["computed_at"] = iso(self.computed_at)
        return out

    def save(self, ticket: Any) -> None:
        """Store the state in ``ticket.sla`` (a new dict, so the ORM sees the change)."""
        ticket.sla = self.to_json()

    # --- operations ----------------------------------------------------------------------

    @property
    def ever_applied(self) -> bool:
        """Deadlines were computed for the ticket before (so it may have SLA follow-ups)."""
        return self.computed_at is not None

    def apply(self, deadlines: Deadlines, now: datetime) -> None:
        """Record freshly computed deadlines (a missing one is dropped)."""
        for which in WHICH:
            deadline = deadlines.get(which)
            if deadline is None:
                self.deadlines.pop(which, None)
            else:
                self.deadlines[which] = deadline.as_json()
        self.computed_at = now

    def pause(self, now: datetime, reason: str) -> None:
        """The SLA clock stops now (Kefu waits on the customer)."""
        self.pauses.append(Pause(now, None, reason))

    def resume(self, now: datetime, paused_since: datetime) -> None:
        """The SLA clock runs again; closes the open pause (or records one from
        ``paused_since`` if none was recorded)."""
        if self.pauses and self.pauses[-1].end is None:
            self.pauses[-1].end = now
        else:
            self.pauses.append(Pause(paused_since, now))

    def pause_spans(self, paused_at: datetime | None) -> list[tuple[datetime, datetime | None]]:
        """Every pause ``(from, to)``, oldest first; ``paused_at`` (the ticket's
        ``sla_paused_at``) counts as an open pause if none is recorded."""
        spans = [(p.start, p.end) for p in self.pauses]
        if paused_at is not None and not any(end is None for _, end in spans):
            spans.append((paused_at, None))
        return sorted(spans, key=lambda p: p[0])

    def callback_answered(self, now: datetime) -> None:
        """The call-back survey was answered: the call-back deadline is met."""
        self.callback_done_at = now

    def callback_reset(self) -> None:
        """A new resolution needs a new call-back: the earlier answer no longer meets it."""
        self.callback_done_at = None

    def record_change(self, change: Change) -> None:
        """Staff changed the category or priority (the deadlines are recomputed after)."""
        self.changes.append(change)

    @property
    def callback_met(self) -> bool:
        return self.callback_done_at is not None

    def order_rework(self, now: datetime, due: datetime, reason: str) -> None:
        """A rework order raised now, due by ``due``; kept in the history too."""
        self.rework = Rework(due, reason)
        self.reworks.append(Rework(due, reason, now))
