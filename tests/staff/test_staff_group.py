"""Staff actions from the agents' group, through the real PTB channel and the fake Bot API:
commands in a ticket's forum topic change the ticket through the same service as the CLI,
answer in the topic, and a technician linked to Telegram is told once. Strangers are ignored."""

from __future__ import annotations

from sqlalchemy import select

from bot.agents.models import GroupPost
from bot.followups.models import Followup
from bot.staff.technicians import add_technician
from bot.store.models import Ticket, TicketEvent
from tests.agents.support import GROUP, Harness
from tests.agents.test_reopen_event import _run_desk_worker


async def _ticket(harness: Harness, ticket_id: int) -> Ticket:
    async with harness.app.db.session() as session:
        return await session.get_one(Ticket, ticket_id)


async def _trail(harness: Harness, ticket_id: int) -> list[TicketEvent]:
    async with harness.app.db.session() as session:
        rows = await session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        return list(rows.scalars())


async def _topic_says(harness: Harness, thread_id: int) -> str:
    await harness.relay()
    return "\n".join(str(c.params.get("text", "")) for c in harness.group_calls(thread_id))


async def test_staff_commands_in_the_topic(harness: Harness) -> None:
    api = harness.api
    alice = await harness.register(7301, "Alice")
    customer = api.user(731, "Lam", language_code="en")
    ticket, thread = await harness.claimed_repair(customer, alice)

    async def say(text: str, who: object = alice) -> None:
        await harness.feed(api.group_update(who, GROUP, text, thread_id=thread))  # type: ignore[arg-type]

    await say("/contact 已致電客人")
    await say("/category electrical 其實係插蘇")
    await say("/priority urgent 有火花")
    await say("/category electrical again")  # the same value: refused, nothing changes
    await say("/priority soon 快啲")  # no such priority
    await say("/cancel")  # a reason is required
    said = await _topic_says(harness, thread)
    assert "Alice 已記錄同客人聯絡" in said
    assert "類別由 water_leak 改為 electrical（原因：其實係插蘇）" in said
    assert "優先級由 normal 改為 urgent（原因：有火花）" in said
    assert "已經係 electrical" in said
    assert "唔係 soon" in said
    assert "請寫埋原因" in said

    fresh = await _ticket(harness, ticket.id)
    assert (fresh.category, fresh.priority, fresh.status) == ("electrical", "urgent", "in_progress")
    assert fresh.due_resolution is not None and ticket.due_resolution is not None
    assert fresh.due_resolution < ticket.due_resolution  # the emergency policy now
    staff = [(e.actor, e.action, e.data) for e in await _trail(harness, ticket.id)]
    mine = [(a, act) for a, act, _ in staff if a == "agent:7301"]
    assert mine == [
        ("agent:7301", "contacted"),
        ("agent:7301", "category_changed"),
        ("agent:7301", "priority_changed"),
    ]
    changed = next(d for a, act, d in staff if act == "category_changed")
    assert changed == {"from": "water_leak", "to": "electrical", "reason": "其實係插蘇"}

    # Someone not registered: ignored, nothing changes.
    stranger = api.user(7399, "Stranger")
    await say("/close", stranger)
    assert (await _ticket(harness, ticket.id)).status == "in_progress"

    # A call-back before the ticket is resolved is refused; after /resolve it closes it.
    await say("/callback 5 fixed 好滿意")
    assert "現時狀態係 in_progress" in await _topic_says(harness, thread)
    await say("/resolve 換咗插蘇")
    await say("/callback 5 fixed 好滿意")
    said = await _topic_says(harness, thread)
    assert "已記錄回訪" in said and "個案已結束" in said
    fresh = await _ticket(harness, ticket.id)
    assert (fresh.status, fresh.survey_score, fresh.survey_fixed) == ("closed", 5, True)
    trail = await _trail(harness, ticket.id)
    callback = next(e for e in trail if e.action == "callback")
    assert callback.actor == "agent:7301"
    assert callback.data == {"score": 5, "fixed": True, "comment": "好滿意", "channel": "phone"}
    assert (trail[-1].actor, trail[-1].action) == ("system", "closed")


async def test_technician_told_once_and_cancel_with_reason(harness: Harness) -> None:
    api = harness.api
    alice = await harness.register(7311, "Alice")
    tech = api.user(9311, "Chan")  # the technician's private chat with the bot
    async with harness.app.db.write() as session:
        await add_technician(
            session, "Chan", now=harness.clock.now(), region="HK", phone="61234567",
            trade="plumbing", telegram_chat_id=tech.id,
        )  # fmt: skip
        await add_technician(
            session, "Wong", now=harness.clock.now(), region="HK", trade="electrical"
        )
    customer = api.user(732, "Lee", language_code="en")
    ticket, thread = await harness.claimed_repair(customer, alice, "Pipe burst under sink")

    async def say(text: str) -> None:
        await harness.feed(api.group_update(alice, GROUP, text, thread_id=thread))

    await say("/technician Nobody")
    await say("/assign Chan")  # Chan is a technician, not an agent: the staff assignment
    said = await _topic_says(harness, thread)
    assert "冇技工「Nobody」" in said
    assert "指派給技工 Chan，並已用 Telegram 通知" in said

    await _run_desk_worker(harness)
    await _run_desk_worker(harness)  # exactly once: a second round sends nothing more
    told = api.texts(tech.id)
    assert len(told) == 1
    assert ticket.number in told[0] and "Pipe burst under sink" in told[0] and "Alice" in told[0]
    async with harness.app.db.session() as session:
        notice = (
            await session.execute(select(Followup).where(Followup.kind == "technician_notice"))
        ).scalar_one()
        posts = (
            await session.execute(select(GroupPost).where(GroupPost.group_chat_id == tech.id))
        ).scalars()
        assert notice.status == "done" and len(list(posts)) == 1

    await say("/technician wong")  # not linked to Telegram: the agents tell them
    assert "未連結 Telegram" in await _topic_says(harness, thread)
    assert (await _ticket(harness, ticket.id)).details["technician"]["name"] == "Wong"

    await say("/cancel 客人話已經自己整好")
    assert "已取消" in await _topic_says(harness, thread)
    fresh = await _ticket(harness, ticket.id)
    assert fresh.status == "cancelled"
    trail = [(e.actor, e.action, e.data) for e in await _trail(harness, ticket.id)]
    assert ("agent:7311", "cancelled", {"reason": "客人話已經自己整好"}) in trail
    assigned = [d["technician"] for a, act, d in trail if act == "assigned" and a == "agent:7311"]
    assert assigned == ["Chan", "Wong"]
