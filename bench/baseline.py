"""A baseline for a benchmark, measured in the same run: another commit's source tree.

``git archive REF`` unpacked into a temporary directory (no worktree, no checkout of this one),
so a bench can run the same workload on the code before a change and after it, on a machine
whose speed drifts, instead of comparing with a number measured some other day.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def describe(ref: str) -> str:
    """``ref`` with its short commit id, for the printed report."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{ref} ({sha})" if sha != ref else ref


@contextlib.contextmanager
def source_tree(ref: str) -> Iterator[Path]:
    """The source tree of commit ``ref`` in a temporary directory, removed afterwards."""
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    with tempfile.TemporaryDirectory(prefix="kefu-baseline-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def trees_to_measure(
    stack: contextlib.ExitStack, ref: str, here: Path
) -> tuple[dict[str, Path], str]:
    """``here`` as "this tree" and, unless ``ref`` is ``none``, ``ref``'s tree as "baseline"
    (removed when ``stack`` closes); the second value describes the baseline, or is empty."""
    trees = {"this tree": here}
    if ref == "none":
        return trees, ""
    trees["baseline"] = stack.enter_context(source_tree(ref))
    return trees, describe(ref)
