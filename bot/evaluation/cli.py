"""``kefu evaluation start|status|summary``: the quarterly owner evaluation by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from bot.clitools import ConfigOption, fail, with_db
from bot.config import Settings
from bot.evaluation.campaign import start_campaign
from bot.evaluation.models import EvaluationCampaign
from bot.evaluation.quarters import parse_quarter, quarter_of
from bot.evaluation.summary import Summary, summarize
from bot.fees.export import write_xlsx

XlsxOption = Annotated[Path | None, typer.Option("--xlsx", help="Also write an XLSX file.")]
evaluation_app = typer.Typer(help="The quarterly owner evaluation (業主評議).")
QuarterArgument = Annotated[
    str | None, typer.Argument(help="The quarter, e.g. 2026Q4 (default: the current one).")
]


def _quarter(text: str | None, settings: Settings, today: object) -> str:
    quarter = (text or quarter_of(today)).upper()  # type: ignore[arg-type]
    try:
        parse_quarter(quarter)
    except ValueError as exc:
        fail(str(exc), 1)
    return quarter


def _summary(quarter_text: str | None, config: ConfigOption) -> Summary:
    async def work(db, settings, clock):
        quarter = _quarter(quarter_text, settings, clock.now().astimezone(settings.tz).date())
        async with db.session() as session:
            campaign = await session.scalar(
                select(EvaluationCampaign).where(EvaluationCampaign.quarter == quarter)
            )
            if campaign is None:
                return None
            return await summarize(session, campaign, low_score=settings.evaluation.low_score)

    found = with_db(config, work)
    if found is None:
        fail(f"no evaluation campaign for {quarter_text or 'this quarter'} yet", 1)
    return found


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@evaluation_app.command("start")
def start(
    quarter: QuarterArgument = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Reuse a seed (reproduce).")] = None,
    config: ConfigOption = None,
) -> None:
    """Start a quarter's campaign now instead of on its send day (idempotent)."""

    async def work(db, settings, clock):
        now = clock.now()
        chosen = _quarter(quarter, settings, now.astimezone(settings.tz).date())
        async with db.write() as session:
            campaign = await start_campaign(session, chosen, settings=settings, now=now, seed=seed)
            return campaign.quarter, campaign.seed

    started, used = with_db(config, work)
    typer.echo(f"{started}: started (seed {used}); `kefu run` sends the questionnaires")


@evaluation_app.command("status")
def status(quarter: QuarterArgument = None, config: ConfigOption = None) -> None:
    """Response rate so far and who has not answered (chat or phone list)."""
    found = _summary(quarter, config)
    typer.echo(
        f"{found.quarter}: {found.sampled} of {found.households} households sampled "
        f"({found.by_chat} by chat, {found.by_phone} by phone); {found.answered} answered "
        f"({_rate(found.response_rate)})"
    )
    for row in found.missing:
        typer.echo(f"  missing\t{row['building']}\t{row['unit']}\t{row['route']}\t{row['status']}")


@evaluation_app.command("summary")
def summary(
    quarter: QuarterArgument = None,
    xlsx: XlsxOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOption = None,
) -> None:
    """Response rate, score per area and building, comments, change on the last quarter."""
    found = _summary(quarter, config)
    if xlsx is not None:
        areas = list(found.areas)
        write_xlsx(
            xlsx,
            {
                "areas": (
                    ["area", "score", "previous", "change"],
                    [
                        [a, found.areas[a], found.previous.get(a), found.change.get(a)]
                        for a in areas
                    ],
                ),
                "buildings": (
                    ["building", *areas],
                    [[b, *(scores.get(a) for a in areas)] for b, scores in found.buildings.items()],
                ),
                "comments": (
                    ["unit", "comment"],
                    [[c["unit"], c["comment"]] for c in found.comments],
                ),
                "missing": (
                    ["unit", "building", "route", "status"],
                    [[m["unit"], m["building"], m["route"], m["status"]] for m in found.missing],
                ),
            },
        )
    if as_json:
        typer.echo(json.dumps(found.as_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{found.quarter}: response rate {_rate(found.response_rate)}")
    for area, score in found.areas.items():
        change = found.change.get(area)
        delta = "" if change is None else f" ({change:+.2f} on last quarter)"
        typer.echo(f"  {area}\t{'-' if score is None else score}{delta}")
    for building, scores in found.buildings.items():
        typer.echo(f"  building {building}\t" + "\t".join(f"{a} {s}" for a, s in scores.items()))
    for row in found.low:
        typer.echo(f"  low score\t{row['unit']}\t{row['area']}\t{row['score']}")
    for row in found.comments:
        typer.echo(f"  comment\t{row['unit']}\t{row['comment']}")
