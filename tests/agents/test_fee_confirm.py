"""``/confirm P-… [amount]`` in the agents' group (#15 part 2): finance confirms a payment
proof where it arrived; the ledger is paid and the group told, and a bad reference is one line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from bot.records.models import ContactResident, FeeItem, Resident
from bot.records.units import read_unit
from bot.store.models import Ticket
from bot.tickets.service import open_ticket
from tests.agents.support import GROUP, Harness


async def test_confirm_in_the_group_pays_the_ledger(harness: Harness) -> None:
    alice = await harness.register(7001, "Alice")
    customer = harness.api.user(593, "Lee", language_code="en")
    await harness.say(customer, "/lang en")
    conversation = await harness.conversation(customer.id)
    now = harness.clock.now()
    unit = read_unit("6座606室", "zh-Hant")
    assert unit is not None
    async with harness.app.db.write() as s:
        resident = Resident(
            unit_key=unit.key, unit_display=unit.display, unit_parts=unit.parts, name="Lee",
            phone="+85297000001", role="owner", created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(resident)
        await s.flush()
        s.add(
            ContactResident(
                contact_id=conversation.contact_id, resident_id=resident.id, linked_at=now
            )
        )
        s.add(
            FeeItem(
                unit_key=unit.key,
                unit_display=unit.display,
                period="2026-11",
                item="management",
                amount=Decimal("1500"),
                due_date=date(2026, 11, 30),
                paid_amount=Decimal("0"),
                created_at=now,
                updated_at=now,
            )
        )
        proof = await open_ticket(
            s, kind="payment", category="payment_proof", now=now, actor="customer",
            contact_id=conversation.contact_id, conversation_id=conversation.id,
            details={"amount": "1500"},
        )  # fmt: skip
        number = proof.number

    await harness.feed(harness.api.group_update(alice, GROUP, "/confirm P-20990101-0001"))
    await harness.feed(harness.api.group_update(alice, GROUP, f"/confirm {number}"))
    await harness.relay(rounds=2)
    texts = [str(c.params.get("text")) for c in harness.group_calls()]
    # The agents' language (agents.language) is zh-Hant here.
    assert "未能確認付款：no ticket P-20990101-0001" in texts, texts
    assert any(f"{number} 已確認收款 HKD 1,500.00" in t for t in texts), texts
    async with harness.app.db.session() as s:
        item = await s.scalar(select(FeeItem))
        ticket = await s.scalar(select(Ticket).where(Ticket.number == number))
    assert item is not None and item.paid_amount == Decimal("1500")
    assert ticket is not None and ticket.status == "resolved"
