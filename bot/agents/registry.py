"""Registering agents: who may act in the agents' groups (``kefu agents add|list|remove``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.agents.models import Agent, Role
from bot.store.db import Database


class AgentError(ValueError):
    """A registry request that cannot be done; the message says why."""


async def add_agent(
    db: Database, telegram_user_id: int, *, name: str, role: str, now: datetime
) -> Agent:
    """Register (or re-activate and update) an agent."""
    if role not in (Role.AGENT, Role.SUPERVISOR):
        raise AgentError(f"role must be agent or supervisor, not {role!r}")
    name = name.strip()
    if not name:
        raise AgentError("an agent needs a name")
    async with db.write() as session:
        agent = await by_telegram_id(session, telegram_user_id, active_only=False)
        if agent is None:
            agent = Agent(telegram_user_id=telegram_user_id, created_at=now)
            session.add(agent)
        agent.name = name
        agent.role = role
        agent.active = True
        agent.updated_at = now
        await session.flush()
        return agent


async def list_agents(db: Database, *, include_inactive: bool = False) -> list[Agent]:
    """Agents by name."""
    async with db.session() as session:
        stmt = select(Agent).order_by(Agent.name, Agent.id)
        if not include_inactive:
            stmt = stmt.where(Agent.active.is_(True))
        return list((await session.execute(stmt)).scalars())


async def remove_agent(db: Database, telegram_user_id: int, *, now: datetime) -> bool:
    """Deactivate an agent (kept for the audit trail); ``False`` if there was none."""
    async with db.write() as session:
        agent = await by_telegram_id(session, telegram_user_id)
        if agent is None:
            return False
        agent.active = False
        agent.updated_at = now
        return True


async def by_telegram_id(
    session: AsyncSession, telegram_user_id: int, *, active_only: bool = True
) -> Agent | None:
    """The agent with this Telegram user id."""
    stmt = select(Agent).where(Agent.telegram_user_id == telegram_user_id)
    if active_only:
        stmt = stmt.where(Agent.active.is_(True))
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_agent(session: AsyncSession, ref: str) -> Agent | None:
    """An active agent by ``@username``, Telegram user id or name (case-insensitive)."""
    ref = ref.strip()
    if not ref:
        return None
    base = select(Agent).where(Agent.active.is_(True))
    if ref.startswith("@"):
        stmt = base.where(func.lower(Agent.username) == ref[1:].lower())
    elif ref.lstrip("-").isdigit():
        stmt = base.where(Agent.telegram_user_id == int(ref))
    else:
        stmt = base.where(func.lower(Agent.name) == ref.lower())
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def supervisors(session: AsyncSession) -> Sequence[Agent]:
    """Active supervisors."""
    stmt = select(Agent).where(Agent.active.is_(True), Agent.role == Role.SUPERVISOR)
    return (await session.execute(stmt.order_by(Agent.id))).scalars().all()
