"""Tickets: numbering, opening, listing and the audit trail."""

from bot.tickets.service import (
    add_event,
    allocate_number,
    get_ticket,
    list_for_contact,
    open_ticket,
)

__all__ = ["add_event", "allocate_number", "get_ticket", "list_for_contact", "open_ticket"]
