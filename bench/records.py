"""Records benchmark: import throughput, idempotent re-import, balance and order look-up latency.

    python bench/records.py [--units 5000] [--months 12] [--orders 20000] [--pg]

Generates a resident registry (one owner per unit), a fee ledger (``--months`` management-fee
rows + parking per unit) and an orders file, then on a throw-away SQLite file (and with ``--pg``
a throw-away PostgreSQL database on KEFU_TEST_POSTGRES_URL) measures:

1. import      — each file imported in one transaction (rows/s), then the same files again
                 (must change nothing; rows/s);
2. baseline    — the naive import of the fee file: one SELECT per row by natural key instead
                 of chunked ``IN`` look-ups, same transaction (rows/s);
3. balance     — ``balance()`` for random units (p50/p99 ms);
4. order       — ``OrderService.lookup`` by the owner and by a stranger (p50/p99 ms).

No targets are set in the issue; the numbers are for comparison with the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot.config import Settings, load_settings  # noqa: E402
from bot.records.fees import balance  # noqa: E402
from bot.records.importing import Kind, check_file, import_file  # noqa: E402
from bot.records.models import FeeItem  # noqa: E402
from bot.records.order_sources import TableOrderSource  # noqa: E402
from bot.records.orders import OrderService  # noqa: E402
from bot.records.units import read_unit  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import Contact  # noqa: E402
from bot.store.scratch import create_database, drop_database  # noqa: E402

TZ = ZoneInfo("Asia/Hong_Kong")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=TZ)


def unit_text(n: int) -> str:
    """A distinct unit for each n < 11 520: 9 blocks x 4 units x 40 floors x 8 rooms."""
    block, unit, floor, room = n % 9 + 1, n // 9 % 4 + 1, n // 36 % 40 + 2, n // 1440 % 8 + 1
    return f"{block}棟{unit}單元{floor}{room:02d}室"


def write_files(folder: Path, units: int, months: int, orders: int) -> dict[str, Path]:
    if units > 11_520:
        raise SystemExit("--units: at most 11520")
    unit_names = [unit_text(n) for n in range(units)]
    residents = ["unit,name,phone,role,move_in"]
    fees = ["unit,period,item,amount,due_date,paid_amount,paid_at"]
    for n, name in enumerate(unit_names):
        residents.append(f"{name},Resident {n},{91000000 + n},owner,2020-01-01")
        for m in range(months):
            period = date(2026, 11, 1) - timedelta(days=30 * m)
            due = date(period.year, period.month, 28)
            paid = "1500" if (n + m) % 5 else ""
            paid_at = f"{due.isoformat()} 10:00" if paid else ""
            fees.append(
                f"{name},{period:%Y-%m},management fee,1500,{due.isoformat()},{paid},{paid_at}"
            )
        fees.append(f"{name},2026-11,parking,800,2026-11-30,,")
    order_rows = ["order_id,phone,email,items,status,carrier,tracking_number,updated_at,eta"]
    for n in range(orders):
        order_rows.append(
            f"SO{100000 + n},{91000000 + n % max(units, 1)},,Item {n},shipped,SF,SF{n:010d},"
            "2026-11-25 14:30,2026-11-28"
        )
    paths = {}
    for kind, lines in (("residents", residents), ("fees", fees), ("orders", order_rows)):
        path = folder / f"{kind}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths[kind] = path
    return paths


async def naive_fee_import(db: Database, path: Path, settings: Settings) -> int:
    """Baseline: validate the same way, then one SELECT per row by natural key."""
    result, rows = check_file("fees", path, settings)
    assert result.ok, result.errors[:3]
    async with db.write() as session:
        for (unit_key, period, item), values in rows.items():
            existing = await session.scalar(
                select(FeeItem).where(
                    FeeItem.unit_key == unit_key, FeeItem.period == period, FeeItem.item == item
                )
            )
            if existing is None:
                session.add(FeeItem(**values, created_at=NOW, updated_at=NOW))
            else:
                for name, value in values.items():
                    if getattr(existing, name) != value:
                        setattr(existing, name, value)
    return len(rows)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000


async def run(url: str, label: str, paths: dict[str, Path], settings: Settings, n: int) -> None:
    db = Database(url)
    await asyncio.to_thread(db.upgrade)
    print(f"\n== {label}")
    kinds: tuple[Kind, ...] = ("residents", "fees", "orders")
    for kind in kinds:
        for attempt in ("import", "re-import"):
            started = time.perf_counter()
            async with db.write() as session:
                result = await import_file(session, kind, paths[kind], settings, NOW)
            took = time.perf_counter() - started
            assert result.ok, result.errors[:3]
            if attempt == "re-import":
                assert result.created == result.updated == 0, result.summary()
            print(
                f"{kind:9} {attempt:9} {result.rows:7d} rows in {took:6.2f} s = "
                f"{result.rows / took:8.0f} rows/s  ({result.summary()})"
            )
    started = time.perf_counter()
    rows = await naive_fee_import(db, paths["fees"], settings)
    took = time.perf_counter() - started
    print(
        f"fees      baseline  {rows:7d} rows in {took:6.2f} s = {rows / took:8.0f} rows/s "
        "(one SELECT per row, same file again)"
    )

    unit_keys = []
    for i in range(200):
        unit = read_unit(unit_text(i), "zh-Hant")
        assert unit is not None
        unit_keys.append(unit.key)
    samples = []
    async with db.session() as session:
        for _ in range(n):
            key = random.choice(unit_keys)
            started = time.perf_counter()
            await balance(session, key, NOW.date(), settings.fees)
            samples.append(time.perf_counter() - started)
    print(
        f"balance   p50 {pct(samples, 0.5):6.2f} ms  p99 {pct(samples, 0.99):6.2f} ms  ({n} calls)"
    )

    service = OrderService(
        TableOrderSource(), settings.orders.model_copy(update={"max_lookups": n * 2})
    )
    async with db.write() as session:
        owner = Contact(phone="+85291000000", phone_verified=True, created_at=NOW, updated_at=NOW)
        stranger = Contact(
            phone="+85298765432", phone_verified=True, created_at=NOW, updated_at=NOW
        )
        session.add_all([owner, stranger])
        await session.flush()
        for who, contact in (("owner", owner), ("stranger", stranger)):
            samples = []
            for i in range(n):
                order_id = f"SO{100000 + (i * 97) % 1000}" if who == "stranger" else "SO100000"
                started = time.perf_counter()
                await service.lookup(session, contact, order_id, NOW)
                samples.append(time.perf_counter() - started)
            print(
                f"order {who:8} p50 {pct(samples, 0.5):6.2f} ms  p99 {pct(samples, 0.99):6.2f} ms"
                f"  ({n} look-ups)"
            )
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--pg", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.yml", environ={})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_files(folder, args.units, args.months, args.orders)
        print(
            f"{args.units} units, {args.units * (args.months + 1)} fee rows, {args.orders} orders"
        )
        asyncio.run(run(f"sqlite:///{folder / 'bench.db'}", "SQLite", paths, settings, args.calls))
        if args.pg:
            server = os.environ.get(
                "KEFU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
            )
            url = create_database(server, "kefu_bench")
            try:
                asyncio.run(run(url, "PostgreSQL", paths, settings, args.calls))
            finally:
                drop_database(server, url)


if __name__ == "__main__":
    os.environ.setdefault("KEFU_LOG_LEVEL", "WARNING")
    main()
