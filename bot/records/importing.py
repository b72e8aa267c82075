"""``kefu residents|orders|fees import FILE``: CSV or XLSX into the records tables.

All or nothing: every row is checked first and each bad row is reported with its line number
(the header is line 1); if any row is bad nothing is written. Rows are upserted on their natural
key (residents: unit + phone; orders: order_id; fees: unit + period + item), so importing the
same file twice changes nothing. Rows missing from a file are left alone.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.records.limits import column_problems
from bot.records.models import (
    ContactResident,
    FeeItem,
    Order,
    OrderStatus,
    Resident,
    ResidentRole,
)
from bot.records.units import read_unit
from bot.records.values import (
    clean_date,
    clean_datetime,
    clean_email,
    clean_money,
    clean_order_id,
    clean_period,
    clean_phone,
    text_of,
)
from bot.store.models import Contact

log = logging.getLogger(__name__)

Kind = Literal["residents", "orders", "fees"]

HEADERS: dict[str, tuple[str, ...]] = {
    "residents": ("unit", "name", "phone", "role", "move_in"),
    "orders": (
        "order_id",
        "phone",
        "email",
        "items",
        "status",
        "carrier",
        "tracking_number",
        "updated_at",
        "eta",
    ),
    "fees": ("unit", "period", "item", "amount", "due_date", "paid_amount", "paid_at"),
}

# Input spellings only (what offices type in spreadsheets); what users read is in dialogues/.
ROLE_ALIASES = {
    "owner": ResidentRole.OWNER,
    "業主": ResidentRole.OWNER,
    "业主": ResidentRole.OWNER,
    "tenant": ResidentRole.TENANT,
    "租客": ResidentRole.TENANT,
    "租戶": ResidentRole.TENANT,
    "租户": ResidentRole.TENANT,
}
FEE_ITEM_ALIASES = {
    "management_fee": (
        "management fee",
        "management",
        "mgmt fee",
        "管理費",
        "管理费",
        "物業費",
        "物业费",
        "物業管理費",
        "物业管理费",
    ),
    "parking": (
        "parking",
        "parking fee",
        "car park",
        "車位",
        "车位",
        "車位費",
        "车位费",
        "停車費",
        "停车费",
    ),
    "water": ("water", "water fee", "水費", "水费"),
    "electricity": ("electricity", "power", "電費", "电费"),
    "gas": ("gas", "煤氣費", "煤气费", "燃氣費", "燃气费"),
    "repair_fund": ("repair fund", "sinking fund", "維修基金", "维修基金"),
    "rent": ("rent", "租金"),
}
STATUS_ALIASES = {
    "new": OrderStatus.PENDING,
    "unpaid": OrderStatus.PENDING,
    "fulfilled": OrderStatus.SHIPPED,
    "dispatched": OrderStatus.SHIPPED,
    "canceled": OrderStatus.CANCELLED,
    "complete": OrderStatus.DELIVERED,
    "completed": OrderStatus.DELIVERED,
}


def fee_item_code(value: Any) -> str:
    """``管理費`` / "Management fee" -> ``management_fee``; unknown items keep their text."""
    raw = text_of(value)
    folded = raw.lower().replace("_", " ").strip()
    for code, aliases in FEE_ITEM_ALIASES.items():
        if folded == code.replace("_", " ") or folded in aliases:
            return code
    if not raw:
        raise ValueError("is empty")
    if len(raw) > 64:
        raise ValueError("is longer than 64 characters")
    return raw


def order_status_code(value: Any) -> str:
    """``In transit`` -> ``in_transit``; must be one Kefu can name in every language."""
    folded = text_of(value).lower().replace("-", "_").replace(" ", "_")
    if folded in STATUS_ALIASES:
        return STATUS_ALIASES[folded]
    try:
        return OrderStatus(folded).value
    except ValueError:
        allowed = ", ".join(s.value for s in OrderStatus)
        raise ValueError(f"{text_of(value)!r} is not one of: {allowed}") from None


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


class _RowProblems(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# --- reading files -----------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header (lower-cased) and ``(line, cells)`` rows of a CSV or XLSX file.

    Raises :class:`ValueError` with a sentence when the file cannot be read at all.
    """
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix in (".csv", ".txt", ".tsv", ""):
        return _read_csv(path, delimiter="\t" if suffix == ".tsv" else ",")
    raise ValueError(f"{path.name}: unsupported file type {suffix!r} (use .csv or .xlsx)")


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name}: not UTF-8 text (save the CSV as UTF-8)") from None
    except OSError as exc:
        raise ValueError(f"{path.name}: cannot read: {exc.strerror}") from None
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{path.name}: the file is empty") from None
    except csv.Error as exc:
        raise ValueError(f"{path.name}: line 1: {exc}") from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ValueError(f"{path.name}: line {reader.line_num}: {exc}") from None
            yield reader.line_num, cells

    return [h.strip().lower() for h in header], rows()


def _read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise ValueError(f"{path.name}: not a readable XLSX file ({type(exc).__name__})") from None
    sheet = workbook.worksheets[0]
    all_rows = sheet.iter_rows(values_only=True)
    header_cells = next(all_rows, None)
    if header_cells is None:
        workbook.close()
        raise ValueError(f"{path.name}: the first sheet is empty")

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for line, cells in enumerate(all_rows, start=2):
                yield line, list(cells)
        finally:
            workbook.close()

    return [text_of(h).lower() for h in header_cells], rows()


# --- per-kind row cleaning ---------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    settings: Settings
    tz: tzinfo

    @property
    def region(self) -> str:
        return self.settings.default_region

    @property
    def language(self) -> str:
        return self.settings.default_language


def _field(
    problems: list[str],
    row: dict[str, Any],
    name: str,
    clean: Callable[[Any], Any],
    *,
    required: bool = True,
) -> Any:
    value = row.get(name)
    if text_of(value) == "":
        if required:
            problems.append(f"{name}: is empty")
        return None
    try:
        return clean(value)
    except ValueError as exc:
        problems.append(f"{name}: {exc}")
        return None


def _clean_resident(row: dict[str, Any], ctx: _Context) -> tuple[tuple[Any, ...], dict[str, Any]]:
    problems: list[str] = []
    unit = _field(problems, row, "unit", lambda v: _unit(v, ctx))
    name = _field(problems, row, "name", _short(200))
    phone = _field(problems, row, "phone", lambda v: clean_phone(v, ctx.region))
    role = _field(problems, row, "role", _role)
    move_in = _field(problems, row, "move_in", clean_date, required=False)
    if problems:
        raise _RowProblems(problems)
    values = {
        "unit_key": unit.key,
        "unit_display": unit.display,
        "unit_parts": unit.parts,
        "name": name,
        "phone": phone,
        "role": role,
        "move_in": move_in,
    }
    return (unit.key, phone), values


def _clean_order(row: dict[str, Any], ctx: _Context) -> tuple[tuple[Any, ...], dict[str, Any]]:
    problems: list[str] = []
    order_id = _field(problems, row, "order_id", clean_order_id)
    phone = _field(problems, row, "phone", lambda v: clean_phone(v, ctx.region), required=False)
    email = _field(problems, row, "email", clean_email, required=False)
    if not text_of(row.get("phone")) and not text_of(row.get("email")):
        problems.append("phone, email: give at least one")
    status = _field(problems, row, "status", order_status_code)
    values = {
        "order_id": order_id,
        "phone": phone,
        "email": email,
        "items": _field(problems, row, "items", _short(4000), required=False) or "",
        "status": status,
        "carrier": _field(problems, row, "carrier", _short(100), required=False),
        "tracking_number": _field(problems, row, "tracking_number", _short(100), required=False),
        "updated_at": _field(
            problems, row, "updated_at", lambda v: clean_datetime(v, ctx.tz), required=False
        ),
        "eta": _field(problems, row, "eta", clean_date, required=False),
    }
    if problems:
        raise _RowProblems(problems)
    return (order_id,), values


def _clean_fee(row: dict[str, Any], ctx: _Context) -> tuple[tuple[Any, ...], dict[str, Any]]:
    problems: list[str] = []
    unit = _field(problems, row, "unit", lambda v: _unit(v, ctx))
    period = _field(problems, row, "period", clean_period)
    item = _field(problems, row, "item", fee_item_code)
    amount = _field(problems, row, "amount", clean_money)
    due_date = _field(problems, row, "due_date", clean_date)
    paid_amount = _field(problems, row, "paid_amount", clean_money, required=False)
    paid_at = _field(problems, row, "paid_at", lambda v: clean_datetime(v, ctx.tz), required=False)
    paid_amount = paid_amount if paid_amount is not None else Decimal("0.00")
    if amount is not None and paid_amount > amount:
        problems.append(f"paid_amount: {paid_amount} is more than amount {amount}")
    if paid_at is not None and paid_amount == 0 and text_of(row.get("paid_amount")) == "":
        problems.append("paid_amount: is empty although paid_at is given")
    if problems:
        raise _RowProblems(problems)
    values = {
        "unit_key": unit.key,
        "unit_display": unit.display,
        "period": period,
        "item": item,
        "amount": amount,
        "due_date": due_date,
        "paid_amount": paid_amount,
        "paid_at": paid_at,
    }
    return (unit.key, period, item), values


def _unit(value: Any, ctx: _Context) -> Any:
    unit = read_unit(text_of(value), ctx.language)
    if unit is None:
        raise ValueError(f"{text_of(value)!r} is not a unit (e.g. 3棟2單元1502室)")
    return unit


def _role(value: Any) -> str:
    folded = text_of(value).lower()
    if folded not in ROLE_ALIASES:
        raise ValueError(f"{text_of(value)!r} is not owner or tenant")
    return ROLE_ALIASES[folded].value


def _short(limit: int) -> Callable[[Any], str]:
    def clean(value: Any) -> str:
        raw = text_of(value)
        if len(raw) > limit:
            raise ValueError(f"is longer than {limit} characters")
        return raw

    return clean


_CLEANERS = {"residents": _clean_resident, "orders": _clean_order, "fees": _clean_fee}
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
    ctx = _Context(settings=settings, tz=settings.tz)
    seen: dict[tuple[Any, ...], int] = {}
    cleaner = _CLEANERS[kind]
    try:
        for line, cells in rows:
            if all(text_of(c) == "" for c in cells):
                continue
            result.rows += 1
            row = {name: cells[i] if i < len(cells) else None for name, i in index.items()}
            try:
                key, values = cleaner(row, ctx)
            except _RowProblems as exc:
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
