"""Follow-up handlers of fee collection: the daily run, the reminder to a unit, the thanks.

Each runs inside the transaction that completes its follow-up and writes its message to the
outbox through the notifier (the dialogue engine, handed in by the app), so a message exists
exactly when its follow-up is done: a crash before the commit leaves the follow-up to another
worker after its lease, a crash after leaves it done and the message to the outbox sweep.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.fees.models import FeeReminder, ReminderStatus
from bot.fees.planner import PLAN_KIND, REMINDER_KIND, THANKS_KIND, plan_reminders, seed_plan
from bot.fees.units import linked_chats, stopped_units
from bot.followups.models import Followup
from bot.records.fees import balance
from bot.records.models import FeeItem, Resident
from bot.records.present import fee_line, money
from bot.records.units import show_unit
from bot.store.models import Conversation

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Writes a proactive message to a conversation's outbox in the caller's transaction
    (:meth:`bot.dialogue.engine.Engine.notify`); ``responses`` names the known responses."""

    responses: Any  # a Container[str] of response names (bot.dialogue.responses.Responses)

    async def notify(
        self,
        conversation_id: int,
        response: str,
        values: dict[str, Any] | None = None,
        *,
        session: AsyncSession | None = None,
        sender: str = "bot",
    ) -> Any: ...


def tone(offset: int, final_after: int) -> str:
    """The wording for a stage: polite before the due date, insistent once long overdue."""
    if offset < 0:
        return "before"
    if offset == 0:
        return "due"
    return "final" if offset >= final_after else "overdue"


class FeePlanHandler:
    """``fee_plan``: the day's reminder run (plans rows and one follow-up per unit)."""

    transactional = True

    def __init__(self, settings: Settings, clock_now: Any) -> None:
        self.settings = settings
        self.clock_now = clock_now

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Plan the reminders of the run's day (idempotent: rows are unique per stage)."""
        planned = await plan_reminders(session, self.settings, self.clock_now())
        if planned:
            log.info("fee reminders: %d units planned", len(planned))


class FeeReminderHandler:
    """``fee_reminder``: one message per linked chat of a unit, listing its items due a
    reminder today, unless each is paid, disputed or arranged by now."""

    transactional = True

    def __init__(self, notifier: Notifier, settings: Settings, clock_now: Any) -> None:
        self.notifier = notifier
        self.settings = settings
        self.clock_now = clock_now

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Re-check, write the message(s) and mark the reminders sent."""
        now = self.clock_now()
        ids = [int(i) for i in (followup.payload or {}).get("reminders", [])]
        unit_key = str((followup.payload or {}).get("unit_key", ""))
        reminders = (
            await session.scalars(
                select(FeeReminder).where(
                    FeeReminder.id.in_(ids), FeeReminder.status == ReminderStatus.PLANNED
                )
            )
        ).all()
        if not reminders:
            return
        today = now.astimezone(self.settings.tz).date()
        stopped = (await stopped_units(session, today)).get(unit_key)
        items = {
            item.id: item
            for item in await session.scalars(
                select(FeeItem).where(FeeItem.id.in_([r.fee_item_id for r in reminders]))
            )
        }
        live: list[FeeReminder] = []
        for reminder in reminders:
            item = items.get(reminder.fee_item_id)
            if stopped or item is None or (item.amount or 0) - (item.paid_amount or 0) <= 0:
                reminder.status = ReminderStatus.SKIPPED
                reminder.reason = stopped or "paid"
            else:
                live.append(reminder)
        if not live:
            return
        chats = (await linked_chats(session, [unit_key])).get(unit_key, [])
        if not chats:
            for reminder in live:
                reminder.status = ReminderStatus.NO_CHAT
            return
        config = self.settings.fees
        ledger = await balance(session, unit_key, today, config)
        wanted = {(items[r.fee_item_id].period, items[r.fee_item_id].item) for r in live}
        lines = [line for line in ledger.lines if (line.period, line.item) in wanted]
        total = sum((line.outstanding + line.late_fee for line in lines), start=0)
        wording = tone(max(r.offset_days for r in live), config.reminders.final_after_days)
        resident = (
            await session.scalars(select(Resident).where(Resident.unit_key == unit_key).limit(1))
        ).first()
        for chat in chats:
            conversation = await session.get(Conversation, chat.conversation_id)
            language = (conversation.language if conversation else None) or (
                self.settings.default_language
            )
            unit = show_unit(
                resident.unit_parts if resident else None,
                resident.unit_display if resident else unit_key,
                language,
            )
            await self.notifier.notify(
                chat.conversation_id,
                f"utter_fee_reminder_{wording}",
                {
                    "unit": unit,
                    "currency": config.currency,
                    "total": money(total),
                    "periods": ", ".join(sorted({line.period for line in lines})),
                    "items": [
                        fee_line(line, config.currency, self.notifier.responses) for line in lines
                    ],
                },
                session=session,
            )
        await session.execute(
            update(FeeReminder)
            .where(FeeReminder.id.in_([r.id for r in live]))
            .values(status=ReminderStatus.SENT, sent_at=now, chats=len(chats))
            .execution_options(synchronize_session=False)
        )
        for reminder in live:
            reminder.status = ReminderStatus.SENT


class FeeThanksHandler:
    """``fee_thanks``: thank the resident whose payment finance confirmed."""

    transactional = True

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        """Write the thanks to the chat the proof came from."""
        payload = followup.payload or {}
        conversation_id = payload.get("conversation_id")
        if conversation_id is None:
            return
        await self.notifier.notify(
            int(conversation_id),
            "utter_fee_payment_confirmed",
            {
                "ticket_number": payload.get("ticket_number", ""),
                "currency": payload.get("currency", ""),
                "amount": payload.get("amount", ""),
                "outstanding": payload.get("outstanding", ""),
            },
            session=session,
        )


def fee_handlers(notifier: Notifier, settings: Settings, clock_now: Any) -> dict[str, Any]:
    """The follow-up handlers of fee collection, by kind (registered by the app)."""
    return {
        PLAN_KIND: FeePlanHandler(settings, clock_now),
        REMINDER_KIND: FeeReminderHandler(notifier, settings, clock_now),
        THANKS_KIND: FeeThanksHandler(notifier),
    }


def attach_fee_collection(worker: Any, notifier: Notifier, settings: Settings, clock: Any) -> None:
    """Give a follow-up worker the fee handlers and the daily run's seed (the app calls it
    for every worker it builds: ``kefu run`` and ``kefu followups work``)."""
    worker.handlers.update(fee_handlers(notifier, settings, clock.now))

    async def seed(session: AsyncSession, now: datetime) -> None:
        await seed_plan(session, now, settings)

    worker.add_seed(seed)
