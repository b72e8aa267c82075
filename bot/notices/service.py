"""Notices: create, cancel, expand into deliveries when due, report, and what residents ask.

Creating a notice schedules one follow-up (``notice_send``, key ``notice:<id>:send``) at its
send time, in the same transaction: the follow-up workers' lease makes the expansion happen
once, and it writes one delivery row per recipient (unique per notice and chat) for the
delivery workers (:mod:`bot.notices.dispatch`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import LANGUAGES, Settings
from bot.followups import service as followups
from bot.followups.models import Followup, FollowupStatus
from bot.notices.audience import CHANNEL, Audience, AudienceError, expand, phone_tags
from bot.notices.deliveries import NOT_REACHED, Delivery, DeliveryStatus, OptOut
from bot.notices.models import TOPIC, AudienceTag, Notice, NoticeKind, NoticeStatus
from bot.records.models import ContactResident, Resident

SEND_KIND = "notice_send"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
DOCUMENT_SUFFIXES = {".pdf"}


class NoticeError(ValueError):
    """A notice that cannot be created as given; the message says why, in one line."""


@dataclass
class NoticeDraft:
    """What staff give to create a notice (from the CLI, a file or, later, the console)."""

    title: dict[str, str]
    body: dict[str, str]
    audience: dict[str, Any]
    kind: str = NoticeKind.ORDINARY
    send_at: datetime | None = None  # None: now
    until: datetime | None = None
    attachment: str | None = None
    created_by: str = "staff"


def _texts(value: dict[str, str], what: str, default_language: str) -> dict[str, str]:
    texts = {k: str(v).strip() for k, v in (value or {}).items() if v and str(v).strip()}
    bad = sorted(set(texts) - set(LANGUAGES))
    if bad:
        raise NoticeError(f"{what}: unknown language {bad[0]!r} (use {', '.join(LANGUAGES)})")
    if not texts:
        raise NoticeError(f"{what}: give it in at least one language ({default_language})")
    return texts


def _attachment(path: str | None, settings: Settings) -> tuple[str | None, str | None]:
    if not path:
        return None, None
    file = Path(path).expanduser()
    if not file.is_file():
        raise NoticeError(f"attachment: no such file {path!r}")
    suffix = file.suffix.lower()
    if suffix not in PHOTO_SUFFIXES | DOCUMENT_SUFFIXES:
        raise NoticeError("attachment: use a PDF or an image (jpg, png, webp, gif)")
    if file.stat().st_size > settings.notices.max_attachment_size:
        raise NoticeError("attachment: the file is larger than notices.max_attachment_size")
    return str(file.resolve()), "photo" if suffix in PHOTO_SUFFIXES else "document"


async def create_notice(
    session: AsyncSession, draft: NoticeDraft, *, now: datetime, settings: Settings
) -> Notice:
    """Validate and store a notice and schedule its sending (in the caller's transaction)."""
    language = settings.default_language
    title = _texts(draft.title, "title", language)
    body = _texts(draft.body, "text", language)
    if draft.kind not in set(NoticeKind):
        raise NoticeError(f"kind: {draft.kind!r} is not ordinary or urgent")
    try:
        audience = Audience.parse(draft.audience, language)
    except AudienceError as exc:
        raise NoticeError(str(exc)) from None
    send_at = draft.send_at or now
    if send_at.tzinfo is None:
        raise NoticeError("send time: give a time zone (or leave it out to use the office's)")
    if draft.until is not None and draft.until <= send_at:
        raise NoticeError("until: must be after the send time")
    attachment, attachment_type = _attachment(draft.attachment, settings)
    notice = Notice(
        title=title,
        body=body,
        attachment=attachment,
        attachment_type=attachment_type,
        audience=audience.to_dict(),
        kind=draft.kind,
        send_at=send_at,
        until=draft.until,
        status=NoticeStatus.SCHEDULED,
        created_by=draft.created_by,
        created_at=now,
    )
    session.add(notice)
    await session.flush()
    await followups.schedule(
        session,
        kind=SEND_KIND,
        due_at=max(send_at, now),
        idempotency_key=f"{notice.campaign}:send",
        now=now,
        payload={"notice_id": notice.id},
        to_customer=False,  # quiet hours are the delivery workers' business, per recipient
    )
    return notice


async def cancel_notice(session: AsyncSession, notice_id: int, *, now: datetime) -> int:
    """Cancel a notice: nothing more is sent. Returns how many deliveries were still open."""
    notice = await session.get(Notice, notice_id)
    if notice is None:
        raise NoticeError(f"no notice {notice_id}")
    notice.status = NoticeStatus.CANCELLED
    notice.cancelled_at = now
    await session.execute(
        update(Followup)
        .where(
            Followup.idempotency_key == f"{notice.campaign}:send",
            Followup.status == FollowupStatus.PENDING,
        )
        .values(status=FollowupStatus.CANCELLED, done_at=now)
    )
    result = await session.execute(
        update(Delivery)
        .where(Delivery.campaign == notice.campaign, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def expand_notice(
    session: AsyncSession, notice: Notice, *, now: datetime, settings: Settings
) -> int:
    """Write one delivery row per recipient of ``notice`` (once: the rows are unique per
    notice and recipient). Opted-out residents get a row that says so (ordinary notices)."""
    audience = Audience.parse(notice.audience, settings.default_language)
    recipients = await expand(session, audience, settings.default_language)
    opted: set[int] = set()
    if not notice.urgent:
        contact_ids = {r.contact_id for r in recipients if r.contact_id is not None}
        if contact_ids:
            rows = await session.execute(
                select(OptOut.contact_id).where(
                    OptOut.topic == TOPIC, OptOut.contact_id.in_(contact_ids)
                )
            )
            opted = set(rows.scalars())
    values = []
    for r in recipients:
        if r.chat_id is None:
            status = DeliveryStatus.NO_CHAT
        elif r.contact_id in opted:
            status = DeliveryStatus.OPTED_OUT
        else:
            status = DeliveryStatus.PENDING
        values.append(
            {
                "campaign": notice.campaign,
                "recipient": r.recipient,
                "channel": CHANNEL if r.chat_id else None,
                "chat_id": r.chat_id,
                "contact_id": r.contact_id,
                "resident_id": r.resident_id,
                "label": r.label[:200],
                "language": r.language,
                "urgent": notice.urgent,
                "topic": None if notice.urgent else TOPIC,
                "status": status,
                "due_at": notice.send_at,
                "attempts": 0,
                "created_at": now,
            }
        )
    if values:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(Delivery)
        stmt = stmt.on_conflict_do_nothing(index_elements=["campaign", "recipient"])
        for start in range(0, len(values), 2000):
            await session.execute(stmt, values[start : start + 2000])
    notice.status = NoticeStatus.SENDING
    notice.expanded_at = now
    return len(values)


class NoticeSendHandler:
    """The follow-up that expands a notice when it is due (all in the follow-up's
    transaction, so the rows exist exactly once)."""

    transactional = True

    def __init__(self, settings: Settings, clock: Any) -> None:
        self.settings = settings
        self.clock = clock

    async def handle(self, followup: Followup, session: AsyncSession) -> None:
        notice = await session.get(Notice, int(followup.payload["notice_id"]))
        if notice is None or notice.status != NoticeStatus.SCHEDULED:
            return  # cancelled (or already expanded)
        await expand_notice(session, notice, now=self.clock.now(), settings=self.settings)


def notice_handlers(settings: Settings, clock: Any) -> dict[str, NoticeSendHandler]:
    """The follow-up handlers of notices, by kind."""
    return {SEND_KIND: NoticeSendHandler(settings, clock)}


# --- content for the delivery workers ------------------------------------------------------


@dataclass(frozen=True)
class NoticeContent:
    """What one recipient receives, in their language (the office's if not written in it)."""

    notice_id: int
    title: str
    body: str
    urgent: bool
    attachment: str | None
    attachment_type: str | None


def pick_text(texts: dict[str, str], language: str, default_language: str) -> str:
    """``texts`` in ``language``, else the office language, else whichever there is."""
    for lang in (language, default_language, *LANGUAGES):
        if texts.get(lang):
            return texts[lang]
    return next(iter(texts.values()), "")


class NoticeSource:
    """:class:`~bot.notices.dispatch.ContentSource` of ``notice:<id>`` campaigns."""

    def __init__(self, settings: Settings) -> None:
        self.default_language = settings.default_language

    async def content(
        self, session: AsyncSession, campaign: str, language: str
    ) -> NoticeContent | None:
        notice = await session.get(Notice, int(campaign.split(":", 1)[1]))
        if notice is None or notice.status == NoticeStatus.CANCELLED:
            return None
        return NoticeContent(
            notice_id=notice.id,
            title=pick_text(notice.title, language, self.default_language),
            body=pick_text(notice.body, language, self.default_language),
            urgent=notice.urgent,
            attachment=notice.attachment,
            attachment_type=notice.attachment_type,
        )


# --- status -----------------------------------------------------------------------------


@dataclass
class NoticeReport:
    """``kefu notices status``: counts by status and whom nobody has reached."""

    notice: Notice
    counts: Counter[str] = field(default_factory=Counter)
    not_reached: list[Delivery] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def notice_report(session: AsyncSession, notice_id: int) -> NoticeReport:
    """The delivery state of one notice."""
    notice = await session.get(Notice, notice_id)
    if notice is None:
        raise NoticeError(f"no notice {notice_id}")
    counts = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.campaign == notice.campaign)
        .group_by(Delivery.status)
    )
    report = NoticeReport(notice, Counter({status: n for status, n in counts}))
    missed = await session.execute(
        select(Delivery)
        .where(Delivery.campaign == notice.campaign, Delivery.status.in_(NOT_REACHED))
        .order_by(Delivery.label, Delivery.id)
    )
    report.not_reached = list(missed.scalars())
    return report


async def list_notices(session: AsyncSession, limit: int = 50) -> list[Notice]:
    """The latest notices, newest first."""
    rows = await session.execute(select(Notice).order_by(Notice.id.desc()).limit(limit))
    return list(rows.scalars())


# --- residents ------------------------------------------------------------------------------


async def current_notices(
    session: AsyncSession, contact_id: int, *, now: datetime, settings: Settings
) -> list[Notice]:
    """Notices current for this chat's units (or sent to it), newest first.

    Current: sent already, and before ``until`` (or within ``notices.current_for`` of being
    sent when it has no end). A resident sees the notices of their unit even if they opted out
    or linked their chat after it was sent.
    """
    since = now - settings.notices.current_for
    candidates = list(
        (
            await session.execute(
                select(Notice)
                .where(
                    Notice.status == NoticeStatus.SENDING,
                    Notice.send_at <= now,
                    # A notice with an end date may run long; none is current after a year.
                    Notice.send_at >= now - timedelta(days=366),
                )
                .order_by(Notice.send_at.desc(), Notice.id.desc())
                .limit(200)
            )
        ).scalars()
    )
    candidates = [
        n for n in candidates if (n.until >= now if n.until is not None else n.send_at >= since)
    ]
    if not candidates:
        return []
    residents = list(
        (
            await session.execute(
                select(Resident)
                .join(ContactResident, ContactResident.resident_id == Resident.id)
                .where(ContactResident.contact_id == contact_id)
            )
        ).scalars()
    )
    all_tags = {t for n in candidates for t in n.audience.get("tags", [])}
    tags = await phone_tags(session, all_tags)
    delivered = set(
        (
            await session.execute(
                select(Delivery.campaign).where(
                    Delivery.contact_id == contact_id,
                    Delivery.campaign.in_([n.campaign for n in candidates]),
                )
            )
        ).scalars()
    )
    out = []
    for notice in candidates:
        audience = Audience.parse(notice.audience, settings.default_language)
        if notice.campaign in delivered or any(
            audience.selects(r, tags.get(r.phone, set())) for r in residents
        ):
            out.append(notice)
    return out


async def opt_out(session: AsyncSession, contact_id: int, *, now: datetime) -> bool:
    """Stop ordinary notices to this contact; False if they had already opted out."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(OptOut).values(
        contact_id=contact_id, topic=TOPIC, created_at=now
    )
    result = await session.execute(stmt.on_conflict_do_nothing().returning(OptOut.id))
    return result.first() is not None


async def opt_in(session: AsyncSession, contact_id: int) -> bool:
    """Receive ordinary notices again; False if they had not opted out."""
    result = await session.execute(
        delete(OptOut).where(OptOut.contact_id == contact_id, OptOut.topic == TOPIC)
    )
    return bool(getattr(result, "rowcount", 0))


async def is_opted_out(session: AsyncSession, contact_id: int) -> bool:
    """Whether this contact opted out of ordinary notices."""
    found = await session.execute(
        select(OptOut.id).where(OptOut.contact_id == contact_id, OptOut.topic == TOPIC)
    )
    return found.first() is not None


async def add_tags(session: AsyncSession, pairs: list[tuple[str, str]], *, now: datetime) -> int:
    """Tag phones (``(tag, E.164 phone)``); existing tags are kept. Returns how many are new."""
    if not pairs:
        return 0
    rows = await session.execute(
        select(AudienceTag.tag, AudienceTag.phone).where(AudienceTag.tag.in_({t for t, _ in pairs}))
    )
    have = {(t, p) for t, p in rows}
    new = [{"tag": t, "phone": p, "created_at": now} for t, p in sorted(set(pairs) - have)]
    if new:
        await session.execute(insert(AudienceTag), new)
    return len(new)
