"""Notices written in a file: YAML (one notice, or a list under ``notices:``) or CSV (a row
each). A file is read whole and checked before anything is stored: all its notices or none.

YAML::

    title: {zh-Hant: 停水通知, en: Water cut}
    text: {zh-Hant: 今日下午二時至四時停水。, en: No water today 2-4 pm.}
    audience: {blocks: ["7"]}
    kind: urgent                 # or ordinary (default)
    send_at: 2026-12-03 09:30    # office time; leave out (or "now") to send at once
    until: 2026-12-03 18:00      # optional: current until then
    attachment: water-cut.pdf    # optional, relative to the file

CSV columns: ``title_zh-Hant``, ``title_zh-Hans``, ``title_en``, ``text_…`` likewise, ``kind``,
``send_at``, ``until``, ``attachment``, and the audience keys (``residents``, ``blocks``,
``floors``, ``roles``, ``tags``, ``units``, ``shopper_tags``; several values split by ``;``).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import yaml

from bot.config import LANGUAGES
from bot.notices.service import NoticeDraft, NoticeError

_AUDIENCE_COLUMNS = ("residents", "blocks", "floors", "roles", "tags", "units", "shopper_tags")


def parse_time(value: Any, tz: tzinfo, what: str = "send_at") -> datetime | None:
    """``now``/empty (None), an ISO date-time (office time unless it has a zone)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "now")):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise NoticeError(
                f"{what}: not a date and time: {value!r} (2026-12-03 09:30)"
            ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _languages(value: Any, what: str, default_language: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {default_language: value}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    raise NoticeError(f"{what}: a text, or texts by language ({', '.join(LANGUAGES)})")


def draft_from_mapping(
    data: dict[str, Any], *, base: Path, tz: tzinfo, default_language: str, by: str
) -> NoticeDraft:
    """One notice from a YAML mapping."""
    if not isinstance(data, dict):
        raise NoticeError("each notice must be a mapping with title, text and audience")
    attachment = data.get("attachment")
    if attachment:
        attachment = str((base / str(attachment)).expanduser())
    audience = data.get("audience")
    if audience is None:
        raise NoticeError("audience: missing (e.g. audience: {residents: all})")
    return NoticeDraft(
        title=_languages(data.get("title"), "title", default_language),
        body=_languages(data.get("text", data.get("body")), "text", default_language),
        audience=audience,
        kind=str(data.get("kind") or "ordinary").strip().lower(),
        send_at=parse_time(data.get("send_at"), tz),
        until=parse_time(data.get("until"), tz, "until"),
        attachment=attachment,
        created_by=by,
    )


def _csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def draft_from_row(
    row: dict[str, str], *, base: Path, tz: tzinfo, default_language: str, by: str
) -> NoticeDraft:
    """One notice from a CSV row."""
    data: dict[str, Any] = {
        "title": {lang: row.get(f"title_{lang}", "") for lang in LANGUAGES},
        "text": {lang: row.get(f"text_{lang}", "") for lang in LANGUAGES},
        "kind": row.get("kind") or "ordinary",
        "send_at": row.get("send_at"),
        "until": row.get("until"),
        "attachment": row.get("attachment") or None,
    }
    if row.get("title"):
        data["title"][default_language] = row["title"]
    if row.get("text"):
        data["text"][default_language] = row["text"]
    audience: dict[str, Any] = {}
    for key in _AUDIENCE_COLUMNS:
        value = row.get(key, "")
        if value:
            audience[key] = value if key == "residents" else value.split(";")
    data["audience"] = audience
    return draft_from_mapping(data, base=base, tz=tz, default_language=default_language, by=by)


def read_notices(path: Path, *, tz: tzinfo, default_language: str, by: str) -> list[NoticeDraft]:
    """Every notice of a YAML or CSV file; :class:`NoticeError` naming the notice that is
    wrong (nothing is stored then)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise NoticeError(f"cannot read {path}: {exc.strerror or exc}") from None
    base = path.parent
    drafts: list[NoticeDraft] = []
    if path.suffix.lower() == ".csv":
        for n, row in enumerate(_csv_rows(text), start=2):
            try:
                drafts.append(
                    draft_from_row(row, base=base, tz=tz, default_language=default_language, by=by)
                )
            except NoticeError as exc:
                raise NoticeError(f"row {n}: {exc}") from None
        return drafts
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NoticeError(f"{path.name} is not valid YAML: {exc}") from None
    items = data.get("notices") if isinstance(data, dict) and "notices" in data else [data]
    if not isinstance(items, list):
        raise NoticeError("notices: expected a list")
    for n, item in enumerate(items, start=1):
        try:
            drafts.append(
                draft_from_mapping(item, base=base, tz=tz, default_language=default_language, by=by)
            )
        except NoticeError as exc:
            raise NoticeError(f"notice {n}: {exc}") from None
    return drafts
