"""The call-back survey: sent once when due, answered in chat, a bad score reopens the ticket."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.followups import Followup, FollowupStatus
from bot.messages import InboundMessage, OutboundMessage
from bot.store.models import Conversation, Ticket, TicketEvent
from bot.tickets.lifecycle import resolve_ticket

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock, interpreter: Any) -> App:
    application = build_app(settings, clock=clock, interpreter=interpreter)
    yield application
    await application.close()


class Chat:
    def __init__(self, app: App) -> None:
        self.app = app
        self.user = uuid.uuid4().hex[:10]

    async def say(self, text: str, payload: str | None = None) -> str:
        replies = await self.app.engine.handle(
            InboundMessage(
                channel="test", user_id=self.user, chat_id=self.user, text=text, payload=payload
            )
        )
        for r in replies:
            await self.app.engine.mark_sent(r.id)
        return "\n".join(r.text for r in replies)

    async def outbox(self) -> list[OutboundMessage]:
        pending = [m for m in await self.app.engine.unsent("test") if m.chat_id == self.user]
        for m in pending:
            await self.app.engine.mark_sent(m.id)
        return pending

    async def ticket(self) -> Ticket:
        async with self.app.db.session() as s:
            return (
                await s.execute(
                    select(Ticket)
                    .join(Conversation, Conversation.id == Ticket.conversation_id)
                    .where(Conversation.chat_id == self.user)
                )
            ).scalar_one()


async def repaired(app: App, clock: FrozenClock) -> Chat:
    chat = Chat(app)
    for text in ["浴室水龍頭漏水", "3棟2單元1502室", "任何時間", "91234567"]:
        await chat.say(text)
    assert "R-" in await chat.say("確認提交", "/affirm")
    ticket = await chat.ticket()
    async with app.db.write() as s:
        ticket = await s.get_one(Ticket, ticket.id)
        await resolve_ticket(s, ticket, settings=app.settings, now=clock.now(), actor="staff:1")
    return chat


async def test_survey_is_sent_once_and_answered(app: App, clock: FrozenClock) -> None:
    chat = await repaired(app, clock)
    worker = app.followup_worker()
    await worker.run_until_idle(clock.now())
    assert await chat.outbox() == []  # not due yet
    clock.advance(app.settings.sla.survey_delay)
    await worker.run_until_idle(clock.now())
    survey = await chat.outbox()
    assert len(survey) == 1 and "評分" in survey[0].text
    assert [b.title[0] for b in survey[0].buttons] == list("12345")  # button n is score n
    await worker.run_until_idle(clock.now())
    assert await chat.outbox() == []  # never twice

    assert "解決" in await chat.say("5")
    assert "意見" in await chat.say("已解決", '/inform{"survey_fixed":true}')
    assert "多謝" in await chat.say("師傅好準時")
    ticket = await chat.ticket()
    assert (ticket.survey_score, ticket.survey_fixed, ticket.survey_comment) == (
        5,
        True,
        "師傅好準時",
    )
    assert ticket.status == "closed"  # a good answer closes the ticket (issue 14)
    assert ticket.closed_at == clock.now()
    async with app.db.session() as s:
        reminders = (
            (
                await s.execute(
                    select(Followup).where(
                        Followup.ticket_id == ticket.id, Followup.kind == "survey_reminder"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [r.status for r in reminders] == [FollowupStatus.CANCELLED]


async def test_low_score_reopens_for_rework(app: App, clock: FrozenClock) -> None:
    chat = await repaired(app, clock)
    clock.advance(app.settings.sla.survey_delay)
    await app.followup_worker().run_until_idle(clock.now())
    await chat.outbox()
    await chat.say("1分")
    await chat.say("未解決", '/inform{"survey_fixed":false}')
    reply = await chat.say("仲係漏緊水")
    assert "重新開啟" in reply
    ticket = await chat.ticket()
    assert ticket.status == "open" and ticket.survey_score == 1
    async with app.db.session() as s:
        actions = (
            (await s.execute(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket.id)))
            .scalars()
            .all()
        )
        conversation = (
            await s.execute(select(Conversation).where(Conversation.chat_id == chat.user))
        ).scalar_one()
    assert {"survey_answered", "reopened", "rework_ordered"} <= set(actions)
    assert conversation.slots["escalate_reason"] == f"survey:{ticket.number}"


async def test_a_new_request_during_the_survey_is_understood(app: App, clock: FrozenClock) -> None:
    chat = await repaired(app, clock)
    clock.advance(app.settings.sla.survey_delay)
    await app.followup_worker().run_until_idle(clock.now())
    await chat.outbox()
    reply = await chat.say("另外大堂部電梯壞咗，成日停")
    assert "評分" not in reply
    async with app.db.session() as s:
        conversation = (
            await s.execute(select(Conversation).where(Conversation.chat_id == chat.user))
        ).scalar_one()
    assert conversation.active_form == "repair_form"
    assert (await chat.ticket()).survey_score is None


@pytest.mark.parametrize(
    ("answers", "score", "fixed", "status"),
    [
        # typed, not pressed: the negative feedback is kept and the ticket reopened
        (["3", "未解決", "仲係漏緊水"], 3, False, "open"),
        (["5", "仲未搞掂", "冇"], 5, False, "open"),
        # a good answer closes the ticket
        (["非常滿意", "解決咗", "冇"], 5, True, "closed"),
        (["4", "yes", "no"], 4, True, "closed"),
    ],
)
async def test_typed_answers_in_the_survey(
    app: App, clock: FrozenClock, answers: list[str], score: int, fixed: bool, status: str
) -> None:
    chat = await repaired(app, clock)
    clock.advance(app.settings.sla.survey_delay)
    await app.followup_worker().run_until_idle(clock.now())
    await chat.outbox()
    for text in answers:
        await chat.say(text)
    ticket = await chat.ticket()
    assert (ticket.survey_score, ticket.survey_fixed, ticket.status) == (score, fixed, status)


async def test_an_emergency_during_the_survey_comes_first(app: App, clock: FrozenClock) -> None:
    chat = await repaired(app, clock)
    clock.advance(app.settings.sla.survey_delay)
    await app.followup_worker().run_until_idle(clock.now())
    await chat.outbox()
    reply = await chat.say("另外大堂部電梯壞咗，困住咗人")
    assert reply.startswith("⚠️ 有人被困升降機") and "評分" not in reply
    async with app.db.session() as s:
        conversation = (
            await s.execute(select(Conversation).where(Conversation.chat_id == chat.user))
        ).scalar_one()
        tickets = (
            await s.execute(
                select(Ticket).where(Ticket.conversation_id == conversation.id).order_by(Ticket.id)
            )
        ).scalars()
        repair, emergency = list(tickets)
    assert conversation.active_form is None  # the survey was set aside, not answered
    assert emergency.priority == "urgent" and emergency.category == "lift"
    assert emergency.number in reply
    assert repair.survey_score is None
