"""Open/closed is decided on TicketStatus, once for every status."""

from __future__ import annotations

from bot.store.models import Ticket, TicketStatus


def test_every_status_is_either_open_or_closed() -> None:
    for status in TicketStatus:
        assert status.is_open != (status in TicketStatus.CLOSED_STATES), status
    assert set(TicketStatus.OPEN_STATES) | set(TicketStatus.CLOSED_STATES) == set(TicketStatus)


def test_done_means_the_work_was_done() -> None:
    assert set(TicketStatus.DONE_STATES) == {TicketStatus.RESOLVED, TicketStatus.CLOSED}
    assert not TicketStatus.CANCELLED.is_done and not TicketStatus.CANCELLED.is_open
    assert TicketStatus.WAITING_CUSTOMER.is_open


def test_a_ticket_read_from_the_store_answers_too() -> None:
    """The column holds plain strings; the checks work on them."""
    ticket = Ticket(status="in_progress")
    assert ticket.is_open and not ticket.is_done
    ticket.status = "closed"
    assert ticket.is_done and not ticket.is_open
