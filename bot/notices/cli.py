"""``kefu notices create|import|list|status|cancel`` and ``kefu notices tags import``.

Staff write notices here (the web console will use the same service); ``kefu run`` sends them
when due. Phone numbers are masked in every listing.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.clitools import ConfigOption, fail, when, with_db
from bot.clock import Clock
from bot.config import Settings
from bot.logs import mask_phones
from bot.notices.deliveries import DeliveryStatus
from bot.notices.files import parse_time, read_notices
from bot.notices.service import (
    NoticeDraft,
    NoticeError,
    add_tags,
    cancel_notice,
    create_notice,
    list_notices,
    notice_report,
    pick_text,
)
from bot.records.values import try_phone
from bot.store.db import Database

notices_app = typer.Typer(help="Notices (通告) to residents and shoppers.", no_args_is_help=True)
tags_app = typer.Typer(help="Tags on phone numbers, for audiences.", no_args_is_help=True)
notices_app.add_typer(tags_app, name="tags")

Many = Annotated[list[str] | None, typer.Option()]


@notices_app.command("create")
def notices_create(
    title: Annotated[str | None, typer.Option(help="Title in the office language.")] = None,
    text: Annotated[str | None, typer.Option(help="Text in the office language.")] = None,
    title_en: Annotated[str | None, typer.Option("--title-en")] = None,
    text_en: Annotated[str | None, typer.Option("--text-en")] = None,
    title_hans: Annotated[str | None, typer.Option("--title-zh-hans")] = None,
    text_hans: Annotated[str | None, typer.Option("--text-zh-hans")] = None,
    title_hant: Annotated[str | None, typer.Option("--title-zh-hant")] = None,
    text_hant: Annotated[str | None, typer.Option("--text-zh-hant")] = None,
    all_residents: Annotated[bool, typer.Option("--all", help="Every resident.")] = False,
    block: Many = None,
    floor: Many = None,
    role: Many = None,
    tag: Many = None,
    unit: Many = None,
    shopper_tag: Many = None,
    urgent: Annotated[bool, typer.Option(help="Ignore quiet hours and opt-outs.")] = False,
    at: Annotated[str | None, typer.Option(help="Send time (office time); default now.")] = None,
    until: Annotated[str | None, typer.Option(help="Current until (office time).")] = None,
    attachment: Annotated[Path | None, typer.Option(help="A PDF or an image.")] = None,
    by: Annotated[str, typer.Option(help="Who wrote it.")] = "staff",
    config: ConfigOption = None,
) -> None:
    """Create one notice from the command line."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        lang = settings.default_language
        titles = {"en": title_en, "zh-Hans": title_hans, "zh-Hant": title_hant}
        texts = {"en": text_en, "zh-Hans": text_hans, "zh-Hant": text_hant}
        if title:
            titles[lang] = title
        if text:
            texts[lang] = text
        audience: dict[str, Any] = {
            "blocks": block,
            "floors": floor,
            "roles": role,
            "tags": tag,
            "units": unit,
            "shopper_tags": shopper_tag,
        }
        audience = {k: v for k, v in audience.items() if v}
        if all_residents:
            audience["residents"] = "all"
        try:
            draft = NoticeDraft(
                title={k: v for k, v in titles.items() if v},
                body={k: v for k, v in texts.items() if v},
                audience=audience,
                kind="urgent" if urgent else "ordinary",
                send_at=parse_time(at, settings.tz),
                until=parse_time(until, settings.tz, "until"),
                attachment=str(attachment) if attachment else None,
                created_by=by,
            )
            async with db.write() as session:
                notice = await create_notice(session, draft, now=clock.now(), settings=settings)
        except NoticeError as exc:
            fail(str(exc))
        typer.echo(f"notice {notice.id} created, sent from {when(notice.send_at, settings)}")

    with_db(config, work)


@notices_app.command("import")
def notices_import(
    file: Path,
    by: Annotated[str, typer.Option(help="Who wrote them.")] = "staff",
    config: ConfigOption = None,
) -> None:
    """Create the notices of a YAML or CSV file (all or none)."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        try:
            drafts = read_notices(
                file, tz=settings.tz, default_language=settings.default_language, by=by
            )
            async with db.write() as session:
                ids = []
                for n, draft in enumerate(drafts, start=1):
                    try:
                        notice = await create_notice(
                            session, draft, now=clock.now(), settings=settings
                        )
                    except NoticeError as exc:
                        raise NoticeError(f"notice {n}: {exc}") from None
                    ids.append(notice.id)
        except NoticeError as exc:
            fail(f"{file.name}: {exc}; nothing was created")
        typer.echo(f"{len(ids)} notices created: {', '.join(map(str, ids)) or '-'}")

    with_db(config, work)


@notices_app.command("list")
def notices_list(limit: int = 20, config: ConfigOption = None) -> None:
    """The latest notices."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        async with db.session() as session:
            rows = await list_notices(session, limit)
        if not rows:
            typer.echo("no notices")
            return
        typer.echo(f"{'id':<6} {'kind':<9} {'status':<10} {'send at':<17} title")
        for n in rows:
            title = pick_text(n.title, settings.default_language, settings.default_language)
            typer.echo(
                f"{n.id:<6} {n.kind:<9} {n.status:<10} {when(n.send_at, settings):<17} {title}"
            )

    with_db(config, work)


@notices_app.command("status")
def notices_status(
    notice_id: int,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOption = None,
) -> None:
    """Sent / failed / unreachable / opted out, and who has not been reached."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        try:
            async with db.session() as session:
                report = await notice_report(session, notice_id)
        except NoticeError as exc:
            fail(str(exc))
        region = settings.default_region
        missed = [
            {"who": mask_phones(d.label, region), "status": d.status, "error": d.last_error}
            for d in report.not_reached
        ]
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": notice_id,
                        "status": report.notice.status,
                        "total": report.total,
                        "counts": dict(report.counts),
                        "not_reached": missed,
                    },
                    ensure_ascii=False,
                )
            )
            return
        n = report.notice
        typer.echo(f"notice {n.id} ({n.kind}, {n.status}), from {when(n.send_at, settings)}")
        typer.echo(f"recipients: {report.total}")
        for status in DeliveryStatus:
            if report.counts.get(status):
                typer.echo(f"  {status:<12} {report.counts[status]}")
        if missed:
            typer.echo("not reached (paper notice or a call):")
            for m in missed:
                typer.echo(f"  {m['who']:<40} {m['status']}")

    with_db(config, work)


@notices_app.command("cancel")
def notices_cancel(notice_id: int, config: ConfigOption = None) -> None:
    """Stop a notice: what was not sent yet is not sent."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        try:
            async with db.write() as session:
                stopped = await cancel_notice(session, notice_id, now=clock.now())
        except NoticeError as exc:
            fail(str(exc))
        typer.echo(f"notice {notice_id} cancelled ({stopped} recipients not sent)")

    with_db(config, work)


@tags_app.command("import")
def tags_import(file: Path, config: ConfigOption = None) -> None:
    """Tag phone numbers from a CSV with columns ``tag`` and ``phone``."""

    async def work(db: Database, settings: Settings, clock: Clock) -> None:
        try:
            rows = list(csv.DictReader(file.read_text(encoding="utf-8-sig").splitlines()))
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
        pairs = []
        for n, row in enumerate(rows, start=2):
            tag = (row.get("tag") or "").strip()
            phone = try_phone(row.get("phone") or "", settings.default_region)
            if not tag or phone is None:
                fail(f"{file.name}: row {n}: needs a tag and a valid phone; nothing was imported")
            pairs.append((tag, phone))
        async with db.write() as session:
            added = await add_tags(session, pairs, now=clock.now())
        typer.echo(f"{added} tags added ({len(pairs) - added} already there)")

    with_db(config, work)
