"""NLU benchmark: training time, model size, parse latency on one core, RSS, vs a naive baseline.

    python bench/nlu.py [--config config.yml] [--messages 10000] [--check]

Trains on the configured dialogues/ into a temporary model folder (the shared models/ is not
touched), then parses N messages (training and test sentences, with entities and odd inputs mixed
in) one at a time, pinned to one CPU. The baseline is the same model scored the obvious way:
scikit-learn ``vectorizer.transform`` + ``predict_proba`` per message. Targets (issue #3): p50 <
1 ms, p99 < 5 ms, training < 10 s, RSS < 200 MB. Only ``--check`` turns a miss into exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One core, no BLAS thread pools: measure what a 2-core box gives one bot process. Set before
# numpy is imported (through bot.nlu below).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.nlu import load_interpreter, train  # noqa: E402
from bot.nlu.data import load_labelled_file, load_training_data  # noqa: E402
from bot.nlu.interpreter import features_for, fit_arrays  # noqa: E402

TARGETS = {"p50_ms": 1.0, "p99_ms": 5.0, "train_s": 10.0, "rss_mb": 200.0}
EXTRAS = [
    "3棟2單元1502室",
    "SO88412",
    "HK$1,500",
    "明天下午三點",
    "tomorrow at 3pm",
    "91234567",
    "a@b.com",
    "😀",
    "!!!",
    "",
    "下週一上午",
    "8栋603",
    "一千五百元",
]


def rss_mb() -> float:
    """Current resident set size in MB (from /proc; falls back to the peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def messages(dialogues: Path, n: int, seed: int = 7) -> list[str]:
    """N realistic messages: training/test sentences, some with entities or noise appended."""
    rng = random.Random(seed)
    pool = [text for text, _ in load_training_data(dialogues).examples]
    test_file = ROOT / "tests" / "nlu" / "test_messages.yml"
    if test_file.exists():
        pool += [text for text, _ in load_labelled_file(test_file)]
    out = []
    for _ in range(n):
        text = rng.choice(pool)
        roll = rng.random()
        if roll < 0.3:
            text = f"{text} {rng.choice(EXTRAS)}"
        elif roll < 0.35:
            text = " ".join(rng.choice(pool) for _ in range(rng.randint(2, 6)))  # long-ish
        out.append(text)
    return out


def serve(args: argparse.Namespace) -> int:
    """Child process: load the trained model like the bot does, parse N messages, print JSON."""
    settings = load_settings(args.config, models_dir=args.serve, nlu={"auto_train": True})
    rss_start = rss_mb()
    interpreter = load_interpreter(settings)
    rss_loaded = rss_mb()
    texts = messages(settings.dialogues_dir, args.messages)
    now = interpreter.clock.now()
    for text in texts[:200]:  # warm caches
        interpreter.parse(text, now=now)
    latencies = []
    cpu = []
    for text in texts:
        c0, t0 = time.thread_time(), time.perf_counter()
        interpreter.parse(text, now=now)
        latencies.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    rng = random.Random(3)
    junk = [
        "".join(rng.choice("0123456789 ") for _ in range(100_000)),
        "明天下午三點 3棟2單元1502室 HK$1,500 " * 4000,
        "漏水電梯煤氣味" * 15_000,
        bytes(rng.randrange(256) for _ in range(100_000)).decode("utf-8", errors="replace"),
    ]
    worst = 0.0
    for text in junk:
        c0 = time.thread_time()
        interpreter.parse(text, now=now)
        worst = max(worst, (time.thread_time() - c0) * 1000)
    print(
        json.dumps(
            {
                "worst_junk_cpu_ms": worst,
                "latencies": latencies,
                "cpu": cpu,
                "rss_start": rss_start,
                "rss_loaded": rss_loaded,
                "rss_after": rss_mb(),
                "sklearn_loaded": "sklearn" in sys.modules,
            }
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: the measuring child
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.serve:
        return serve(args)

    with tempfile.TemporaryDirectory() as models:
        settings = load_settings(args.config, models_dir=models, nlu={"auto_train": False})
        started = time.perf_counter()
        result = train(settings)
        train_s = time.perf_counter() - started
        # The bot's view: a fresh process that loads the model (no scikit-learn) and parses.
        command = [sys.executable, __file__, "--serve", models, "--messages", str(args.messages)]
        if args.config:
            command += ["--config", str(args.config)]
        child = subprocess.run(command, capture_output=True, text=True, check=False)
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            return 2
        served = json.loads(child.stdout.strip().splitlines()[-1])
        latencies = served["latencies"]

        # Baseline: the same model scored through scikit-learn, one message at a time.
        interpreter = load_interpreter(settings, auto_train=True)
        estimators: dict[str, object] = {}
        fit_arrays(
            load_training_data(settings.dialogues_dir),
            settings.nlu,
            settings.default_region,
            estimators=estimators,
        )
        vectorizer, clf = estimators["vectorizer"], estimators["intent"]
        texts = messages(settings.dialogues_dir, min(2000, args.messages))
        now = interpreter.clock.now()
        baseline = []
        for text in texts:
            t0 = time.perf_counter()
            feats, _ = features_for(
                text, settings.nlu.max_chars, now, settings.default_region, interpreter.lookups
            )
            clf.predict_proba(vectorizer.transform([feats]))  # type: ignore[attr-defined]
            baseline.append((time.perf_counter() - t0) * 1000)

    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    b50, b99 = percentile(baseline, 50), percentile(baseline, 99)
    measured = {"p50_ms": p50, "p99_ms": p99, "train_s": train_s, "rss_mb": served["rss_after"]}
    print(
        f"training data     {result.examples} examples, {len(result.intents)} intents, "
        f"{len(result.response_keys)} FAQ keys, {result.features} features"
    )
    print(f"training time     {train_s:.2f} s")
    print(f"model size        {result.model_bytes / 1e6:.2f} MB on disk")
    print(
        f"parse latency     p50 {p50:.3f} ms  p99 {p99:.3f} ms  max {max(latencies):.2f} ms  "
        f"({len(latencies)} messages, one core, fresh process)"
    )
    print(
        f"parse CPU time    p50 {percentile(served['cpu'], 50):.3f} ms  "
        f"p99 {percentile(served['cpu'], 99):.3f} ms  (excludes waiting for the CPU; wall "
        f"time above includes it, so it grows when other processes compete for the core)"
    )
    print(f"pathological 100k-char inputs: worst {served['worst_junk_cpu_ms']:.1f} ms CPU")
    load1 = os.getloadavg()[0]
    print(f"machine load      {load1:.1f} (1 min) on {os.cpu_count()} CPUs")
    print(
        f"baseline sklearn  p50 {b50:.3f} ms  p99 {b99:.3f} ms  ({len(baseline)} messages; "
        f"ours is x{b50 / p50:.1f} faster at p50, x{b99 / p99:.1f} at p99)"
    )
    print(
        f"process RSS       {served['rss_after']:.0f} MB serving (imports {served['rss_start']:.0f}"
        f" MB, model loaded {served['rss_loaded']:.0f} MB; scikit-learn imported: "
        f"{served['sklearn_loaded']})"
    )
    misses = [k for k, limit in TARGETS.items() if measured[k] >= limit]
    for key, limit in TARGETS.items():
        status = "MISS" if key in misses else "ok"
        print(f"target {key:<8} < {limit:<6} measured {measured[key]:.3f}  {status}")
    return 1 if args.check and misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
