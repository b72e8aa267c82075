"""A follow-up worker process for the multi-process tests.

usage: worker_proc.py URL WORKER_ID NOW_ISO [--batch N] [--ready FILE] [--go FILE]
                      [--hang MARKER] [--lease S] [--pause S]
Drains every follow-up due at NOW (an explicit time: no real deadlines), then exits. With
``--ready`` it writes FILE once started (imports done, worker built) and before waiting for
``--go``, so a test starts several processes together without guessing how long they take.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from followup_sink import SinkHandler  # noqa: E402

from bot.clock import FrozenClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.followups.worker import FollowupWorker  # noqa: E402
from bot.store.db import Database  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("worker_id")
    parser.add_argument("now")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--ready")
    parser.add_argument("--go")
    parser.add_argument("--hang")
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now)
    settings = load_settings(environ={}, database={"url": args.url})
    db = Database(args.url, pool_size=2)
    handler = SinkHandler(
        args.worker_id, pause=args.pause, hang_marker=Path(args.hang) if args.hang else None
    )
    worker = FollowupWorker(
        db,
        settings,
        FrozenClock(now),
        {"test": handler},
        worker_id=args.worker_id,
        batch_size=args.batch,
        lease=timedelta(seconds=args.lease),
    )
    if args.ready:
        Path(args.ready).write_text("ready")
    if args.go:
        go = Path(args.go)
        while not go.exists():  # start all processes together
            await asyncio.sleep(0.01)
    total = await worker.run_until_idle()
    print(f"{args.worker_id} claimed {total}", flush=True)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
