"""The household brief on the escalation card (issue #14): the flat's residents, open tickets
and complaints and fee balance, with ``kefu household show UNIT``; nothing for a common area."""

from __future__ import annotations

from datetime import date, timedelta

from bot.fees.collection import building_of
from bot.followups.deadlines import apply_deadlines
from bot.records.models import Resident
from bot.records.units import read_unit
from bot.tickets import open_ticket
from tests.agents.support import Harness
from tests.fakes.bot_api import FakeUser
from tests.fees.support import fee


async def _escalate(harness: Harness, customer: FakeUser, unit: str | None) -> str:
    """Open a repair for the customer's chat at ``unit``, ask for an agent, return the card."""
    await harness.say(customer, "你好")
    conversation = await harness.conversation(customer.id)
    now = harness.clock.now()
    async with harness.app.db.write() as session:
        ticket = await open_ticket(
            session, kind="repair", category="water_leak", now=now, actor="user",
            contact_id=conversation.contact_id, conversation_id=conversation.id,
            description="廚房水喉漏水", unit=unit,
        )  # fmt: skip
        await apply_deadlines(session, ticket, harness.settings, now)
    await harness.say(customer, "/agent")
    await harness.relay()
    [topic] = await harness.topics()
    return str(harness.group_calls(topic.thread_id)[0].params["text"])


async def test_the_card_shows_the_household_of_the_ticket_flat(harness: Harness) -> None:
    unit = read_unit("3座15樓1502室", "zh-Hant")
    assert unit is not None and building_of(unit.key) == "3"
    now = harness.clock.now()
    async with harness.app.db.write() as session:
        for name, role, phone in (("陳大文", "owner", "91234567"), ("陳太", "tenant", "92345678")):
            session.add(
                Resident(
                    unit_key=unit.key, unit_display=unit.display, unit_parts=unit.parts,
                    name=name, phone=phone, role=role, created_at=now, updated_at=now,
                )
            )  # fmt: skip
        today = now.date()
        await fee(session, unit.key, "2026-10", "management", "1500", today - timedelta(days=40),
                  now=now)  # fmt: skip
        await fee(session, unit.key, "2026-12", "management", "1500", date(2099, 1, 1), now=now)
    card = await _escalate(harness, harness.api.user(570, "陳太", language_code="zh-hant"),
                           "3座15樓1502室")  # fmt: skip
    assert "🏠 3座1502室：住戶 2 人；未完成工單 1 張（投訴 0）" in card, card
    assert "欠費 HKD 3,000.00（逾期 HKD 1,500.00）" in card, card
    assert "一戶一檔：kefu household show 3座1502室" in card
    assert "91234567" not in card  # no resident's phone on the card
    assert len(card) < 4096


async def test_no_brief_for_a_ticket_without_a_flat(harness: Harness) -> None:
    card = await _escalate(harness, harness.api.user(571, "李生", language_code="zh-hant"), None)
    assert "🏠" not in card and "kefu household show" not in card
