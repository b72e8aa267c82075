"""The household file in the office's language: tables of text, for the screen, CSV and XLSX.

Every word comes from ``dialogues/household.yml`` (and the shared ticket, fee and category
names) through a :class:`Texts` the caller provides, so this module needs no dialogue code:
``kefu household show`` passes the responses in ``--lang``, the agents' card can pass its own.
Times are shown in the office's time zone, amounts as ``1,500.00``, phone numbers masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol

from bot.household.service import HouseholdFile
from bot.logs import mask_number, mask_phones
from bot.records.present import money
from bot.store.models import Ticket, TicketEvent

# A long description is cut on screen and in files alike; the ticket keeps it whole.
MAX_CELL = 200


class Texts(Protocol):
    """Responses in one language: ``texts("utter_x", {...})`` and ``"utter_x" in texts``."""

    def __call__(self, name: str, values: dict[str, Any] | None = None) -> str: ...

    def __contains__(self, name: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class Table:
    """One section of the file: a title, column names and rows of text."""

    key: str
    title: str
    header: list[str]
    rows: list[list[str]]


def household_tables(
    file: HouseholdFile, texts: Texts, tz: tzinfo, region: str | None = None
) -> list[Table]:
    """The file as tables: summary, residents, tickets, history, call-backs, fees, payments."""
    sections = (
        ("summary", ["field", "value"], _summary(file, texts)),
        ("residents", ["name", "role", "phone", "move_in"], _residents(file, texts)),
        (
            "tickets",
            ["number", "kind", "category", "status", "opened", "resolved", "description"],
            [_ticket_row(t, texts, tz, region) for t in file.tickets],
        ),
        (
            "history",
            ["number", "time", "actor", "action", "details"],
            _history(file, texts, tz, region),
        ),
        (
            "callbacks",
            ["number", "time", "channel", "score", "fixed", "comment", "by"],
            _callbacks(file, texts, tz, region),
        ),
        (
            "balance",
            ["period", "item", "outstanding", "due_date", "days_overdue", "late_fee"],
            _balance(file, texts),
        ),
        (
            "payments",
            ["period", "item", "amount", "paid_amount", "paid_at"],
            _payments(file, texts, tz),
        ),
    )
    return [
        Table(
            key=key,
            title=texts(f"utter_household_section_{key}"),
            header=[texts(f"utter_household_column_{c}") for c in columns],
            rows=rows,
        )
        for key, columns, rows in sections
    ]


def render_text(tables: list[Table], texts: Texts) -> str:
    """The tables for a terminal: a title, a header and one line per row (``|`` between)."""
    lines: list[str] = []
    for table in tables:
        lines.append(f"== {table.title} ==")
        if not table.rows:
            lines.append(texts("utter_household_none"))
        else:
            if table.key != "summary":
                lines.append(" | ".join(table.header))
            lines.extend(" | ".join(row) for row in table.rows)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_brief(file: HouseholdFile, texts: Texts) -> str:
    """The summary alone, one ``label: value`` a line: small enough for an agent's card."""
    return "\n".join(f"{label}: {value}" for label, value in _summary(file, texts))


def _word(texts: Texts, name: str, fallback: str) -> str:
    """Response ``name`` if the dialogues have it, else the raw value (an unknown code)."""
    return texts(name) if name in texts else fallback


def _when(value: datetime | None, tz: tzinfo) -> str:
    return "" if value is None else f"{value.astimezone(tz):%Y-%m-%d %H:%M}"


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _summary(file: HouseholdFile, texts: Texts) -> list[list[str]]:
    open_tickets = sum(1 for t in file.tickets if t.is_open)
    balance = file.balance
    currency = balance.currency if balance else ""
    rows = [
        ("unit", file.unit.display),
        ("date", file.today.isoformat()),
        ("residents", str(len(file.residents))),
        ("tickets", str(len(file.tickets))),
        ("open_tickets", str(open_tickets)),
        ("complaints", str(len(file.tickets_of("complaint")))),
        ("callbacks", str(len(file.callbacks))),
        ("balance", f"{currency} {money(balance.total)}".strip() if balance else money(0)),
        (
            "overdue",
            f"{currency} {money(balance.overdue_total)}".strip() if balance else money(0),
        ),
    ]
    return [[texts(f"utter_household_field_{key}"), value] for key, value in rows]


def _residents(file: HouseholdFile, texts: Texts) -> list[list[str]]:
    return [
        [
            r.name,
            _word(texts, f"utter_household_role_{r.role}", r.role),
            mask_number(r.phone),
            r.move_in.isoformat() if r.move_in else "",
        ]
        for r in file.residents
    ]


def _ticket_row(ticket: Ticket, texts: Texts, tz: tzinfo, region: str | None) -> list[str]:
    category = ticket.category or ""
    return [
        ticket.number,
        _word(texts, f"utter_ticket_kind_{ticket.kind}", ticket.kind),
        _word(texts, f"utter_{ticket.kind}_category_{category}", category) if category else "",
        _word(texts, f"utter_ticket_status_{ticket.status}", ticket.status),
        _when(ticket.created_at, tz),
        _when(ticket.resolved_at or ticket.closed_at, tz),
        _cut(mask_phones(ticket.description or "", region)),
    ]


def _history(file: HouseholdFile, texts: Texts, tz: tzinfo, region: str | None) -> list[list[str]]:
    rows: list[list[str]] = []
    for ticket in file.tickets:
        for event in file.events.get(ticket.id, []):
            rows.append(
                [
                    ticket.number,
                    _when(event.created_at, tz),
                    event.actor,
                    _word(texts, f"utter_household_action_{event.action}", event.action),
                    _cut(mask_phones(_data(event), region)),
                ]
            )
    return rows


def _data(event: TicketEvent) -> str:
    if event.action == "opened":
        return ""  # its only datum is the kind, already a column of the ticket
    return ", ".join(f"{k}={v}" for k, v in (event.data or {}).items() if v not in (None, "", []))


def _callbacks(
    file: HouseholdFile, texts: Texts, tz: tzinfo, region: str | None
) -> list[list[str]]:
    def fixed(value: bool | None) -> str:
        if value is None:
            return ""
        return texts("utter_household_yes" if value else "utter_household_no")

    return [
        [
            c.ticket_number,
            _when(c.at, tz),
            _word(texts, f"utter_household_channel_{c.channel}", c.channel),
            "" if c.score is None else str(c.score),
            fixed(c.fixed),
            _cut(mask_phones(c.comment, region)),
            c.by,
        ]
        for c in file.callbacks
    ]


def _balance(file: HouseholdFile, texts: Texts) -> list[list[str]]:
    if file.balance is None:
        return []
    return [
        [
            line.period,
            _word(texts, f"utter_fee_item_{line.item}", line.item),
            money(line.outstanding),
            line.due_date.isoformat(),
            str(line.days_overdue),
            money(line.late_fee),
        ]
        for line in file.balance.lines
    ]


def _payments(file: HouseholdFile, texts: Texts, tz: tzinfo) -> list[list[str]]:
    return [
        [
            p.period,
            _word(texts, f"utter_fee_item_{p.item}", p.item),
            money(p.amount),
            money(p.paid_amount),
            _when(p.paid_at, tz),
        ]
        for p in file.payments
    ]
