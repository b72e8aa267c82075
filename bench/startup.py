"""What starting a ``kefu`` process costs: CPU and wall seconds of short CLI calls.

Every CLI call and every ``kefu run`` that a test or an operator starts pays for the imports
before it does anything, and the test suite starts hundreds of them (issue 12). Measured here:

* ``kefu --help``: the command list alone;
* a broken config (``kefu chat --config`` with a bad value): the one-line error path that
  tests run in a subprocess;
* ``kefu tickets list`` on an empty, migrated SQLite database;
* ``python -c "import bot.run"``: what ``kefu run`` imports before it starts polling;
* ``kefu run`` until its ``/healthz`` answers, against the fake Bot API
  (``tests/fakes/bot_api.py``), then SIGTERM: the process the Telegram tests start. Wall is
  the time to ``/healthz``, CPU the whole process's (start and stop).

    python bench/startup.py [--repeat 5] [--baseline main] [--no-run]

The baseline is another commit (``--baseline REF``, default ``main``; ``none`` to skip): its
source tree (``git archive``) and this tree run every command in a fresh process, interleaved,
so a machine whose speed drifts slows both alike; the table compares medians. CPU is the
child's user + system time (``resource.getrusage(RUSAGE_CHILDREN)``), the number to compare on
a shared machine; wall is printed beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from bench.baseline import trees_to_measure  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI  # noqa: E402

RUN = "kefu run to /healthz"

Sample = tuple[float, float]  # (CPU seconds, wall seconds)


def commands(work: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Name -> (arguments after ``python``, extra environment); ``work`` holds the files."""
    broken = work / "broken.yml"
    broken.write_text("nlu:\n  threshold: high\n", encoding="utf-8")
    db = {"KEFU_DATABASE_URL": f"sqlite:///{work}/empty.db"}
    return {
        "kefu --help": (["-m", "bot", "--help"], {}),
        "broken config": (["-m", "bot", "chat", "--config", str(broken)], {}),
        "tickets list (empty db)": (["-m", "bot", "tickets", "list"], db),
        "import bot.run": (["-c", "import bot.run"], {}),
    }


def timed(tree: Path, args: list[str], extra: dict[str, str]) -> Sample:
    """Run ``python args`` with ``tree`` as the working directory (so its ``bot`` is imported)."""
    env = {**os.environ, **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up run leaves bytecode for the rest
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, *args], cwd=tree, env=env, input="", capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 2) or "Traceback" in out.stderr:
        sys.stderr.write(out.stderr[-4000:])
        raise RuntimeError(f"{args} in {tree} failed ({out.returncode})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed_run(tree: Path, api: FakeBotAPI, work: Path) -> Sample:
    """``kefu run`` against the fake Bot API: (CPU start to exit, wall until /healthz)."""
    port = free_port()
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": f"sqlite:///{work}/run.db",
        "KEFU_VAR_DIR": str(work / "var"),
        "KEFU_TELEGRAM_BASE_URL": api.base_url,
        "KEFU_TELEGRAM__POLL_TIMEOUT": "1",
        "TELEGRAM_BOT_TOKEN": api.token,
        "KEFU_TELEGRAM__METRICS_PORT": str(port),
    }
    env.pop("KEFU_CONFIG", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    log = (work / "run.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tree, env=env,
                               stdout=log, stderr=log)  # fmt: skip
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"kefu run in {tree} exited: see {work / 'run.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    break
            except OSError:
                time.sleep(0.02)
        wall = time.perf_counter() - start
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        log.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command and tree (median)")
    parser.add_argument("--baseline", default="main", help="git ref measured alongside, or none")
    parser.add_argument("--no-run", action="store_true", help=f"skip '{RUN}'")
    args = parser.parse_args()
    logging.getLogger("tornado.access").setLevel(logging.CRITICAL)  # getUpdates cut at exit
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)", flush=True)
    samples: dict[tuple[str, str], list[Sample]] = {}
    with contextlib.ExitStack() as stack:
        trees, label = trees_to_measure(stack, args.baseline, HERE)
        work = {name: Path(stack.enter_context(tempfile.TemporaryDirectory())) for name in trees}
        plan = {name: commands(work[name]) for name in trees}
        api = None if args.no_run else stack.enter_context(FakeBotAPI())
        for name, tree in trees.items():  # the databases exist and are migrated, untimed
            if tree != HERE and not any((tree / "models").glob("nlu-*.joblib")):
                shutil.copytree(HERE / "models", tree / "models", dirs_exist_ok=True)
            db = plan[name]["tickets list (empty db)"][1]
            timed(tree, ["-m", "bot", "db", "upgrade"], db)
            run_db = {"KEFU_DATABASE_URL": f"sqlite:///{work[name]}/run.db"}
            timed(tree, ["-m", "bot", "db", "upgrade"], run_db)
            for argv, extra in plan[name].values():  # warm: bytecode compiled, files cached
                timed(tree, argv, extra)
            if api is not None:  # warm, and trains the model if this tree's data differs
                timed_run(tree, api, work[name])
        names = [*plan["this tree"], *([] if api is None else [RUN])]
        # Interleaved: a machine that is slower for a while slows both trees alike.
        for _ in range(args.repeat):
            for command in names:
                for name, tree in trees.items():
                    if command == RUN:
                        assert api is not None
                        sample = timed_run(tree, api, work[name])
                    else:
                        argv, extra = plan[name][command]
                        sample = timed(tree, argv, extra)
                    samples.setdefault((command, name), []).append(sample)
    if label:
        print(f"baseline: {label}")
    header = f"{'command':<26}{'this tree cpu':>14}{'wall':>8}"
    if label:
        header += f"{'baseline cpu':>14}{'wall':>8}{'CPU change':>12}"
    print(header)
    for command in names:
        cpu = statistics.median(s[0] for s in samples[(command, "this tree")])
        wall = statistics.median(s[1] for s in samples[(command, "this tree")])
        row = f"{command:<26}{cpu:>13.2f}s{wall:>7.2f}s"
        if label:
            base_cpu = statistics.median(s[0] for s in samples[(command, "baseline")])
            base_wall = statistics.median(s[1] for s in samples[(command, "baseline")])
            change = (cpu / base_cpu - 1) * 100
            row += f"{base_cpu:>13.2f}s{base_wall:>7.2f}s{change:>+11.0f}%"
        print(row)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
