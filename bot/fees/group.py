"""``/confirm P-… [amount]`` in the agents' group: finance confirms a payment proof where the
proof arrived. The agents' desk calls :func:`confirm_from_group` and posts the text it returns."""

from __future__ import annotations

from collections.abc import Callable

from bot.clock import Clock
from bot.config import Settings
from bot.fees.confirm import ConfirmError, confirm_payment
from bot.records.present import money
from bot.store.db import Database


async def confirm_from_group(
    db: Database,
    settings: Settings,
    clock: Clock,
    arg: str,
    actor: str,
    text: Callable[..., str],
) -> str:
    """Confirm the proof named in ``arg`` (``P-… [amount]``); the agents' reply, rendered by
    ``text`` (the desk's responses in the agents' language)."""
    number, _, amount = arg.strip().partition(" ")
    if not number:
        return text("utter_agents_fee_confirm_usage")
    try:
        async with db.write() as session:
            result = await confirm_payment(
                session,
                number,
                settings=settings,
                now=clock.now(),
                actor=actor,
                amount=amount.strip() or None,
            )
    except ConfirmError as exc:
        return text("utter_agents_fee_confirm_failed", reason=str(exc))
    return text(
        "utter_agents_fee_confirmed",
        ticket_number=result.ticket_number,
        currency=settings.fees.currency,
        amount=money(result.amount),
        outstanding=money(result.outstanding),
    )
