"""Customer messages relayed to an agents' group under Telegram's 20 messages/min per group.

C escalated customers send M messages in a burst (one every ``--gap`` seconds, round robin)
through the real Kefu (engine, NLU, store, Telegram channel, agents' desk) against the fake Bot
API server. The relay runs every second of simulated time (an injected clock: minutes of group
traffic take seconds). Printed per mode: posts used, the worst minute, when the last message
reached the group, and p50/p99 of the delay from a message arriving to it being in the group;
plus the wall-clock cost of the relay rounds.

Modes: Kefu's relay (texts held ``coalesce_window`` then merged per customer, budget shared by
every process through the database) and, in the same run, a naive baseline posting one message
per customer message under the same limit.

    python bench/agents_relay.py [--customers 4] [--messages 100] [--gap 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.agents.models import AgentTopic, GroupPost, PostKind  # noqa: E402
from bot.agents.relay import GroupRelay, _Post  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.store.db import Database  # noqa: E402
from tests.agents.support import GROUP, Harness, agent_settings  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI  # noqa: E402


class NaiveRelay(GroupRelay):
    """The baseline: every customer message is its own post (no coalescing)."""

    def _plan(
        self, rows: list[GroupPost], topics: dict[int, AgentTopic], now: datetime
    ) -> tuple[list[_Post], datetime | None]:
        posts = [
            _Post(topics.get(r.topic_id) if r.topic_id is not None else None, [r]) for r in rows
        ]
        return posts, None


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run(mode: str, args: argparse.Namespace, interpreter: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="kefu-bench-agents-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    Database(url).upgrade()
    clock = FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Hong_Kong")))
    with FakeBotAPI() as api:
        api.group(GROUP, "Kefu agents", forum=True)
        harness = Harness(api, agent_settings(api, tmp, url), clock, interpreter)
        if mode == "naive":
            harness.desk.relay = NaiveRelay(
                harness.app.db, harness.tg.bot, harness.desk.takeover, clock
            )
        await harness.start()
        relay_seconds = 0.0
        rounds = 0

        async def relay_round() -> None:
            nonlocal relay_seconds, rounds
            started = time.perf_counter()
            await harness.relay()
            relay_seconds += time.perf_counter() - started
            rounds += 1

        customers = [api.user(900 + i, f"C{i}", language_code="en") for i in range(args.customers)]
        for customer in customers:
            await harness.say(customer, "/agent")
        await relay_round()
        start = clock.now()
        next_relay = start + timedelta(seconds=1)
        for n in range(args.messages):
            await harness.feed(api.text_update(customers[n % len(customers)], f"m{n}"))
            clock.advance(seconds=args.gap)
            if clock.now() >= next_relay:
                await relay_round()
                next_relay += timedelta(seconds=1)
        for _ in range(3600):
            if all(p.sent_at for p in await harness.posts()):
                break
            clock.advance(seconds=1)
            await relay_round()
        posts = await harness.posts()
        relayed = [p for p in posts if p.kind == PostKind.RELAY_TEXT]
        delays = [(p.sent_at - p.created_at).total_seconds() for p in relayed if p.sent_at]
        stamps = sorted({p.post_id: p.sent_at for p in posts if p.post_id and p.sent_at}.values())
        worst = max(
            (
                sum(1 for s in stamps[i:] if s < t + timedelta(seconds=60))
                for i, t in enumerate(stamps)
            ),
            default=0,
        )
        last = max((p.sent_at for p in relayed if p.sent_at), default=start)
        await harness.close()
    return {
        "mode": mode,
        "posts": len({p.post_id for p in relayed}),
        "worst_minute": worst,
        "done_after_s": (last - start).total_seconds(),
        "p50_s": _pct(delays, 0.5),
        "p99_s": _pct(delays, 0.99),
        "relay_ms_per_round": 1000 * relay_seconds / max(rounds, 1),
        "delivered": len(delays),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=4)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between messages")
    args = parser.parse_args()
    from bot.nlu import load_interpreter

    interpreter = load_interpreter(load_settings(ROOT / "config.yml", environ={}))
    print(
        f"{args.messages} messages from {args.customers} customers, one every {args.gap}s; "
        "group limit 20 posts/min"
    )
    header = f"{'mode':<8}{'posts':>7}{'worst min':>11}{'done after':>12}{'p50':>8}{'p99':>8}"
    print(header + f"{'relay ms/round':>16}{'delivered':>11}")
    for mode in ("kefu", "naive"):
        r = await run(mode, args, interpreter)
        print(
            f"{r['mode']:<8}{r['posts']:>7}{r['worst_minute']:>11}{r['done_after_s']:>11.0f}s"
            f"{r['p50_s']:>7.0f}s{r['p99_s']:>7.0f}s{r['relay_ms_per_round']:>16.1f}"
            f"{r['delivered']:>11}"
        )


if __name__ == "__main__":
    asyncio.run(main())
