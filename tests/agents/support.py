"""Helpers for the takeover tests: the real app (engine, store, NLU) and the real Telegram
channel talking to the fake Bot API server, with the agents' desk attached.

Updates go through ``TelegramChannel.process_update`` one at a time (deterministic); the group
relay and the customer-notice pump are run by the test (``relay()``, ``pump()``) on the
injected :class:`FrozenClock`, so minutes of group traffic take no real time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram import Update

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.agents.models import AgentTopic, GroupPost  # noqa: E402
from bot.agents.registry import add_agent  # noqa: E402
from bot.agents.telegram import AgentDesk, attach_agents  # noqa: E402
from bot.app import App, build_app  # noqa: E402
from bot.channels.telegram import TelegramBot  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from bot.followups.deadlines import apply_deadlines  # noqa: E402
from bot.store.models import Conversation, Ticket  # noqa: E402
from bot.tickets import open_ticket  # noqa: E402
from tests.fakes.bot_api import Call, FakeBotAPI, FakeUser  # noqa: E402

GROUP = -1001000000006
NO_LIMITS = {
    "per_second": 0,
    "per_chat_per_second": 0,
    "group_per_minute": 0,
    "max_retries": 2,
    "network_backoff": 0.05,
}


def agent_settings(api: FakeBotAPI, tmp_path: Path, db_url: str, **agents: Any) -> Settings:
    """Project settings: Telegram at the fake server, one agents' group, test-friendly limits."""
    section: dict[str, Any] = {"default_group_id": GROUP, "calendar": "24x7"}
    section.update(agents)
    return load_settings(
        ROOT / "config.yml",
        environ={},
        database={"url": db_url},
        var_dir=str(tmp_path / "var"),
        dialogues_dir=str(ROOT / "dialogues"),
        models_dir=str(ROOT / "models"),
        telegram={
            "base_url": api.base_url,
            "media_dir": str(tmp_path / "media"),
            "rate_limit": dict(NO_LIMITS),
        },
        agents=section,
    )


class Harness:
    """Kefu with the agents' desk, driven step by step."""

    def __init__(
        self, api: FakeBotAPI, settings: Settings, clock: FrozenClock, interpreter: Any
    ) -> None:
        self.api = api
        self.settings = settings
        self.clock = clock
        self.app: App = build_app(settings, clock=clock, interpreter=interpreter)
        self.tg = TelegramBot(settings, self.app.engine, token=api.token, db=self.app.db)
        desk = attach_agents(self.tg, self.app)
        assert desk is not None
        self.desk: AgentDesk = desk
        self.customers: dict[int, FakeUser] = {}

    async def start(self) -> None:
        await self.tg.application.initialize()

    async def close(self) -> None:
        await self.tg.application.shutdown()
        await self.app.close()

    async def feed(self, update: dict[str, Any]) -> None:
        """One update through the real channel (hooks, engine, delivery)."""
        await self.tg.channel.process_update(Update.de_json(update, self.tg.bot))

    async def say(self, user: FakeUser, text: str) -> None:
        await self.feed(self.api.text_update(user, text))
        await self.desk.pump_once()

    async def relay(self, *, rounds: int = 1) -> None:
        for _ in range(rounds):
            await self.desk.relay.run_once()

    async def register(self, user_id: int, name: str, role: str = "agent") -> FakeUser:
        await add_agent(self.app.db, user_id, name=name, role=role, now=self.clock.now())
        return self.api.user(user_id, name, username=name.lower())

    async def topics(self) -> list[AgentTopic]:
        async with self.app.db.session() as session:
            return list(
                (await session.execute(select(AgentTopic).order_by(AgentTopic.id))).scalars()
            )

    async def posts(self) -> list[GroupPost]:
        async with self.app.db.session() as session:
            return list((await session.execute(select(GroupPost).order_by(GroupPost.id))).scalars())

    async def conversation(self, chat_id: int) -> Conversation:
        async with self.app.db.session() as session:
            row = await session.execute(
                select(Conversation).where(Conversation.chat_id == str(chat_id))
            )
            return row.scalar_one()

    async def claimed_repair(
        self, customer: FakeUser, agent: FakeUser, description: str = "Leak under the sink"
    ) -> tuple[Ticket, int]:
        """A customer with a repair ticket, escalated and claimed by ``agent``: ticket, thread."""
        await self.say(customer, "/lang en")
        conversation = await self.conversation(customer.id)
        now = self.clock.now()
        async with self.app.db.write() as session:
            ticket = await open_ticket(
                session, kind="repair", category="water_leak", now=now, actor="user",
                contact_id=conversation.contact_id, conversation_id=conversation.id,
                description=description,
            )  # fmt: skip
            await apply_deadlines(session, ticket, self.settings, now)
        await self.say(customer, "/agent")
        await self.relay()
        [topic] = [t for t in await self.topics() if t.conversation_id == conversation.id]
        assert topic.thread_id is not None
        await self.feed(self.api.group_update(agent, GROUP, "/claim", thread_id=topic.thread_id))
        return ticket, topic.thread_id

    def group_calls(self, thread_id: int | None = None) -> list[Call]:
        """Successful message posts in the agents' group (in one topic if given)."""
        calls = self.api.sent(GROUP)
        if thread_id is not None:
            calls = [c for c in calls if int(c.params.get("message_thread_id") or 0) == thread_id]
        return calls

    def to_customer(self, user: FakeUser) -> list[str]:
        return self.api.texts(user.id)
