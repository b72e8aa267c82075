"""The owner evaluation in a chat through the real engine, NLU and store: buttons, typed
digits, Chinese numerals and button words; one reminder; closed after 15 days; a low score
opens a task; status and summary with the previous quarter (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.evaluation.campaign import start_campaign
from bot.evaluation.models import EvaluationCampaign, EvaluationTarget
from bot.evaluation.summary import summarize
from bot.followups import FollowupWorker
from bot.messages import InboundMessage
from bot.store.models import Message, Ticket
from tests.fees.support import household


async def drain(worker: FollowupWorker) -> None:
    while await worker.run_until_idle():
        pass


async def say(app: App, user: str, text: str = "", payload: str | None = None) -> str:
    replies = await app.engine.handle(
        InboundMessage(channel="terminal", user_id=user, chat_id=user, text=text, payload=payload)
    )
    return "\n".join(r.text for r in replies)


async def outbox(app: App, conversation_id: int | None) -> list[Message]:
    async with app.db.session() as s:
        return list(
            (
                await s.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation_id, Message.direction == "out")
                    .order_by(Message.id)
                )
            ).all()
        )


async def test_answered_in_chat_reminded_once_closed_and_summarised(
    app: App, clock: FrozenClock
) -> None:
    app.settings.evaluation.share = 1.0  # everybody, to know who is asked
    app.settings.evaluation.repeat_quarters = 0  # and again after last quarter
    now = clock.now()
    async with app.db.write() as s:
        _, answers = await household(
            s, "3座1201室", now=now, phone="+85294000001", chat_id="ans", language="zh-Hant"
        )
        _, silent = await household(
            s, "3座1202室", now=now, phone="+85294000002", chat_id="sil", language="en"
        )
        await household(s, "3座1203室", now=now, phone="+85294000003", chat_id=None)
        previous = await start_campaign(
            s, "2026Q3", settings=app.settings, now=now - timedelta(days=90), seed=1
        )
        for target in (
            await s.scalars(
                select(EvaluationTarget).where(EvaluationTarget.campaign_id == previous.id)
            )
        ).all():
            target.status = "answered"
            target.scores = {a: 4 for a in previous.areas}
        previous.closed_at = now - timedelta(days=60)
        previous.summary = {}
        campaign = await start_campaign(s, "2026Q4", settings=app.settings, now=now, seed=42)
        campaign_id = campaign.id
    worker = app.followup_worker()
    await drain(worker)

    invite = await outbox(app, answers)
    assert len(invite) == 1 and "2026Q4" in invite[0].text and "保安服務" in invite[0].text
    assert invite[0].data["buttons"][0]["title"] == "1 非常不滿意"
    assert "Security (1-5)" in (await outbox(app, silent))[0].text

    reply = await say(app, "ans", payload='/inform{"evaluation_score":5}')  # a button
    assert "清潔服務" in reply, reply
    reply = await say(app, "ans", "4")  # a typed digit
    assert "維修服務" in reply, reply
    reply = await say(app, "ans", "滿意")  # a button's words
    assert "客戶服務" in reply, reply
    reply = await say(app, "ans", "好差")  # not a score: asked again
    assert "客戶服務" in reply or "1 至 5" in reply, reply
    reply = await say(app, "ans", "一")  # a Chinese numeral
    assert "園藝及公共設施" in reply, reply
    reply = await say(app, "ans", "3")
    assert "其他意見" in reply, reply
    reply = await say(app, "ans", "管理處職員態度好差")
    assert "多謝你寶貴的意見" in reply, reply

    async with app.db.session() as s:
        target = await s.scalar(
            select(EvaluationTarget).where(
                EvaluationTarget.conversation_id == answers,
                EvaluationTarget.campaign_id == campaign_id,
            )
        )
        assert target is not None and target.status == "answered"
        assert target.scores == {
            "security": 5,
            "cleaning": 4,
            "repairs": 4,
            "customer_service": 1,
            "gardens_facilities": 3,
        }
        task = await s.scalar(select(Ticket).where(Ticket.number == target.task_ticket))
        assert task is not None and task.category == "evaluation" and task.is_open
        assert task.due_first_response is not None

    clock.advance(days=7, minutes=1)
    await drain(worker)
    assert len(await outbox(app, silent)) == 2  # one reminder
    assert len([m for m in await outbox(app, answers) if "2026Q4" in m.text]) == 1

    clock.advance(days=8)
    await drain(worker)
    reply = await say(app, "sil", "5")
    assert "closed" in reply, reply
    async with app.db.session() as s:
        closed = await s.get_one(EvaluationCampaign, campaign_id)
        assert closed.closed_at is not None
        result = await summarize(s, closed)
    assert result.sampled == 3 and result.answered == 1 and result.by_phone == 1
    assert result.response_rate == round(1 / 3, 4)
    assert {m["route"] for m in result.missing} == {"chat", "phone"}
    assert result.areas["customer_service"] == 1.0
    assert result.change["customer_service"] == -3.0 and result.change["security"] == 1.0
    assert result.buildings == {"3": result.areas}
    assert result.comments == [{"unit": target.unit_display, "comment": "管理處職員態度好差"}]
    assert result.low == [{"unit": target.unit_display, "area": "customer_service", "score": 1}]
