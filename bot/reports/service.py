"""Building the service report: read the period (:mod:`~bot.reports.query`), read each ticket's
facts (:mod:`~bot.reports.facts`), count (:mod:`~bot.reports.compute`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ReportsSettings
from bot.reports.collection import CollectionRates, collection_rows
from bot.reports.compute import Report, summarise
from bot.reports.facts import all_facts
from bot.reports.query import load_period

# Who an actor string is (``agent:7`` -> "Alice"): read by the caller, which may know the agents'
# table (the reports sit below the agents' package).
AgentNames = Callable[[AsyncSession], Awaitable[Mapping[str, str]]]


async def build_report(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    settings: ReportsSettings | None = None,
    names: AgentNames | None = None,
    collection: CollectionRates | None = None,
) -> Report:
    """The report for ``[start, end)`` as of ``now``, with the complaint target and the cause
    mapping of ``settings`` (the defaults when None), the agents' names from ``names`` and the
    fee collection rate from ``collection`` (the fees' ledger; none without it)."""
    options = settings or ReportsSettings()
    rows = await load_period(session, start, end)
    report = summarise(
        all_facts(rows.tickets, rows.events, rows.agent_replies),
        start,
        end,
        now,
        complaint_target=options.complaint_target,
        causes=options.causes,
        unmapped_cause=options.unmapped_cause,
    )
    if names is not None:
        report.names = dict(await names(session))
    if collection is not None:
        report.collection = await collection_rows(session, collection, start, end, now)
    return report
