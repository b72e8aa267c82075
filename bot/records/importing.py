"""``kefu residents|orders|fees import FILE``: CSV or XLSX into the records tables.

All or nothing: every row is checked first and each bad row is reported with its line number
(the header is line 1); if any row is bad nothing is written. Rows are upserted on their natural
key (residents: unit + phone; orders: order_id; fees: unit + period + item), so importing the
same file twice changes nothing. Rows missing from a file are left alone.

Reading files is :mod:`bot.records.import_files`, checking rows :mod:`bot.records.import_rows`;
this module validates a whole file and writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.records.import_files import read_rows
from bot.records.import_rows import (
    CLEANERS,
    FEE_ITEM_ALIASES,
    HEADERS,
    ROLE_ALIASES,
    STATUS_ALIASES,
    RowContext,
    RowProblems,
    fee_item_code,
    order_status_code,
)
from bot.records.limits import column_problems
from bot.records.models import ContactResident, FeeItem, Order, Resident
from bot.records.values import text_of
from bot.store.models import Contact

__all__ = [
    "FEE_ITEM_ALIASES",
    "HEADERS",
    "ROLE_ALIASES",
    "STATUS_ALIASES",
    "ImportResult",
    "Kind",
    "RowError",
    "check_file",
    "fee_item_code",
    "import_file",
    "order_status_code",
    "read_rows",
]

Kind = Literal["residents", "orders", "fees"]


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in the file: line number (header = 1; 0 = the file itself) and reason."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(slots=True)
class ImportResult:
    """What an import did (or would have done, with ``dry_run``)."""

    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line for the operator."""
        return (
            f"{self.kind}: {self.rows} rows, {self.created} new, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )


_MODELS: dict[str, Any] = {"residents": Resident, "orders": Order, "fees": FeeItem}
_KEYS: dict[str, tuple[str, ...]] = {
    "residents": ("unit_key", "phone"),
    "orders": ("order_id",),
    "fees": ("unit_key", "period", "item"),
}


def check_file(
    kind: Kind, path: Path, settings: Settings
) -> tuple[ImportResult, dict[tuple[Any, ...], dict[str, Any]]]:
    """Read and validate every row; no database access. Returns the result and clean rows."""
    result = ImportResult(kind=kind)
    clean_rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    try:
        header, rows = read_rows(path)
    except ValueError as exc:
        result.errors.append(RowError(0, str(exc)))
        return result, clean_rows
    expected = HEADERS[kind]
    missing = [name for name in expected if name not in header]
    if missing:
        result.errors.append(
            RowError(
                1, f"header: missing column(s) {', '.join(missing)} (expected {','.join(expected)})"
            )
        )
        return result, clean_rows
    extra = [h for h in header if h and h not in expected]
    if extra:
        result.warnings.append(f"line 1: ignoring unknown column(s) {', '.join(extra)}")
    index = {name: header.index(name) for name in expected}
    ctx = RowContext(settings=settings, tz=settings.tz)
    seen: dict[tuple[Any, ...], int] = {}
    cleaner = CLEANERS[kind]
    try:
        for line, cells in rows:
            if all(text_of(c) == "" for c in cells):
                continue
            result.rows += 1
            row = {name: cells[i] if i < len(cells) else None for name, i in index.items()}
            try:
                key, values = cleaner(row, ctx)
            except RowProblems as exc:
                result.errors.extend(RowError(line, p) for p in exc.problems)
                continue
            misfits = column_problems(_MODELS[kind], values)
            if misfits:
                result.errors.extend(RowError(line, p) for p in misfits)
                continue
            if key in seen:
                result.errors.append(RowError(line, f"duplicate of line {seen[key]}"))
                continue
            seen[key] = line
            clean_rows[key] = values
    except ValueError as exc:
        result.errors.append(RowError(0, str(exc)))
    if result.rows == 0 and not result.errors:
        result.warnings.append("no data rows")
    return result, clean_rows


async def import_file(
    session: AsyncSession,
    kind: Kind,
    path: Path,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool = False,
) -> ImportResult:
    """Validate ``path`` and upsert its rows in ``session``'s transaction.

    Nothing is written when any row is bad (``result.errors``) or with ``dry_run``; the counts
    still say what would change.
    """
    result, clean_rows = check_file(kind, path, settings)
    if not result.ok:
        return result
    model = _MODELS[kind]
    key_names = _KEYS[kind]
    existing = await _existing(session, model, key_names, list(clean_rows))
    new_residents: list[Resident] = []
    for key, values in clean_rows.items():
        row = existing.get(key)
        if row is None:
            result.created += 1
            if dry_run:
                continue
            stamp = (
                {"imported_at": now} if kind == "orders" else {"created_at": now, "updated_at": now}
            )
            obj = model(**values, **stamp)
            session.add(obj)
            if kind == "residents":
                new_residents.append(obj)
            continue
        changed = {k: v for k, v in values.items() if not _same(getattr(row, k), v)}
        if not changed:
            result.unchanged += 1
            continue
        result.updated += 1
        if dry_run:
            continue
        for name, value in changed.items():
            setattr(row, name, value)
        if kind == "orders":
            row.imported_at = now
        else:
            row.updated_at = now
    if new_residents:
        await session.flush()
        await _link_existing_contacts(session, new_residents, now)
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if not dry_run and result.created >= 1000 and dialect == "postgresql":
        # Fresh statistics: right after a bulk load the planner still thinks the table is empty
        # and scans it for every key chunk of the next import (65k fee rows: 80 s instead of 3).
        await session.flush()
        await session.execute(text(f"ANALYZE {model.__tablename__}"))
    return result


async def _existing(
    session: AsyncSession, model: Any, key_names: Sequence[str], keys: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], Any]:
    found: dict[tuple[Any, ...], Any] = {}
    columns = [getattr(model, name) for name in key_names]
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        if len(columns) == 1:
            condition = columns[0].in_([k[0] for k in chunk])
        else:
            condition = tuple_(*columns).in_(chunk)
        for row in (await session.scalars(select(model).where(condition))).all():
            found[tuple(getattr(row, name) for name in key_names)] = row
    return found


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        return old == new
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        return old is not None and new is not None and Decimal(old) == Decimal(new)
    return bool(old == new)


async def _link_existing_contacts(
    session: AsyncSession, residents: list[Resident], now: datetime
) -> None:
    """Chats that already shared a verified phone get linked to newly registered residents."""
    phones = {r.phone for r in residents}
    contacts = (
        await session.scalars(
            select(Contact).where(Contact.phone.in_(phones), Contact.phone_verified.is_(True))
        )
    ).all()
    by_phone: dict[str, list[Contact]] = {}
    for contact in contacts:
        by_phone.setdefault(contact.phone or "", []).append(contact)
    for resident in residents:
        for contact in by_phone.get(resident.phone, []):
            session.add(
                ContactResident(
                    contact_id=contact.id, resident_id=resident.id, verified=True, linked_at=now
                )
            )
