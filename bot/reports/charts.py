"""The report's charts as PNG (matplotlib, no display): the Pareto of complaint causes, the
fishbone over 人 機 料 法 環, and the satisfaction trend.

Chinese labels need a CJK font: a system font that fontconfig knows for Chinese, else Noto Sans
CJK from the ``manimgx-fonts-cjk`` package (a dependency). Without either the charts are still
drawn, with a warning in the log, but Chinese shows as empty boxes.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
from collections.abc import Callable
from datetime import tzinfo
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.reports.compute import Report
from bot.reports.labels import Labels
from bot.reports.text import period_days

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib is imported when a chart is drawn, not with this module: importing it costs
# ~0.5 s CPU, which every `kefu` process paid (the web console and fee group import this).

log = logging.getLogger(__name__)

CJK_FAMILIES = ("Noto Sans CJK TC", "Noto Sans CJK SC", "Noto Sans CJK HK")
BRANCHES = ("人", "機", "料", "法", "環")


@cache
def use_agg() -> None:
    """Select matplotlib's file-only backend, before pyplot is first imported: never a window."""
    import matplotlib

    matplotlib.use("Agg")


def _system_cjk_fonts() -> list[str]:
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]


def _packaged_cjk_fonts() -> list[str]:
    try:
        import manimgx_fonts_cjk
    except ImportError:
        return []
    folder = Path(manimgx_fonts_cjk.__file__).parent
    return [str(p) for p in sorted(folder.glob("*.tt[cf]")) + sorted(folder.glob("*.otf"))]


@cache
def cjk_family() -> str | None:
    """Register a CJK font with matplotlib and return its family name (None: none found)."""
    from matplotlib import font_manager

    before = {f.name for f in font_manager.fontManager.ttflist}
    for path in _system_cjk_fonts() + _packaged_cjk_fonts():
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue
    _as_every_weight(before)
    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    added = sorted(names - before)
    if added:
        return added[0]
    log.warning("no CJK font found: Chinese in report charts will not render")
    return None


def _as_every_weight(before: set[str]) -> None:
    """A variable font registers as one weight (Thin): offer it as regular and bold too, so
    matplotlib uses it without a "failed to find font weight" warning per label."""
    from matplotlib import font_manager

    fm = font_manager.fontManager
    for entry in list(fm.ttflist):
        if entry.name not in before and entry.weight not in (400, "normal"):
            fm.ttflist += [dataclasses.replace(entry, weight=w) for w in (400, 700)]
    fm._findfont_cached.cache_clear()  # type: ignore[attr-defined]


def _styled(draw: Callable[[Figure], None], width: float, height: float, path: Path) -> Path:
    use_agg()
    from matplotlib import pyplot as plt

    family = cjk_family()
    fonts = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    with plt.rc_context({"font.family": fonts, "axes.unicode_minus": False}):
        fig = plt.figure(figsize=(width, height), dpi=110)
        try:
            draw(fig)
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, bbox_inches="tight")
        finally:
            plt.close(fig)
    return path


def pareto_chart(report: Report, labels: Labels, path: Path) -> Path:
    """Bars of complaints per cause, largest first, with the cumulative share and 80 % line."""
    from matplotlib.ticker import MaxNLocator

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        rows = report.complaint_pareto
        names = [labels.category("complaint", r.cause) for r in rows] or [labels("none")]
        counts = [r.count for r in rows] or [0]
        colours = ["#c0392b" if r.vital_few else "#7f8c8d" for r in rows] or ["#7f8c8d"]
        ax.bar(names, counts, color=colours)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(labels("count"))
        ax.set_title(labels("pareto"))
        line = ax.twinx()
        line.plot(names, [r.cumulative * 100 for r in rows] or [0], marker="o", color="#2c3e50")
        line.axhline(80, linestyle="--", color="#e67e22", linewidth=1)
        line.set_ylim(0, 105)
        line.set_ylabel(f"{labels('cumulative')} %")
        ax.tick_params(axis="x", rotation=30)

    return _styled(draw, 7, 4.2, path)


def fishbone_chart(report: Report, labels: Labels, path: Path) -> Path:
    """A cause-and-effect diagram: the spine to the effect (complaints), a bone per branch
    (人 機 料 法 環) with its categories and counts."""

    def draw(fig: Figure) -> None:
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 12)
        ax.set_ylim(-5, 5)
        ax.axis("off")
        ax.annotate("", xy=(10.2, 0), xytext=(0.4, 0),
                    arrowprops={"arrowstyle": "-|>", "lw": 2.5, "color": "#2c3e50"})  # fmt: skip
        total = sum(sum(c.values()) for c in report.fishbone.values())
        ax.text(10.3, 0, f"{labels('fishbone_effect')}\n{total}", va="center", ha="left",
                fontsize=13, weight="bold",
                bbox={"boxstyle": "round", "fc": "#fdebd0", "ec": "#e67e22"})  # fmt: skip
        xs = (2.0, 5.0, 8.0)
        slots = [(xs[0], 1), (xs[1], 1), (xs[2], 1), (xs[0] + 1.5, -1), (xs[1] + 1.5, -1)]
        for (x, side), branch in zip(slots, BRANCHES, strict=True):
            top = (x - 1.4, 4.0 * side)
            ax.plot([top[0], x], [top[1], 0], color="#34495e", lw=1.8)
            cats = report.fishbone.get(branch, {})
            n = sum(cats.values())
            ax.text(top[0], top[1] + 0.35 * side, f"{labels.cause(branch)} ({n})",
                    ha="center", va="center", fontsize=12, weight="bold",
                    bbox={"boxstyle": "round", "fc": "#eaf2f8", "ec": "#5d6d7e"})  # fmt: skip
            for i, (category, count) in enumerate(list(cats.items())[:4]):
                frac = (i + 1) / 5
                cx = top[0] + (x - top[0]) * frac
                cy = top[1] * (1 - frac)
                ax.plot([cx - 1.0, cx], [cy, cy], color="#95a5a6", lw=1)
                name = labels.category("complaint", category)
                ax.text(cx - 1.05, cy, f"{name} {count}", ha="right", va="center", fontsize=9)
        ax.set_title(labels("fishbone"), y=0.97)

    return _styled(draw, 10, 5.5, path)


def trend_chart(report: Report, labels: Labels, tz: tzinfo, path: Path) -> Path:
    """Average score per day or week (line) over the number of answers (bars)."""
    from matplotlib.ticker import MaxNLocator

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        days = [f"{p.start.astimezone(tz):%m-%d}" for p in report.trend]
        ax.bar(days, [p.answers for p in report.trend], color="#aed6f1")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(labels("answers"))
        line = ax.twinx()
        points = [(d, p.average_score) for d, p in zip(days, report.trend, strict=True)]
        scored = [(d, s) for d, s in points if s is not None]
        if scored:
            line.plot([d for d, _ in scored], [s for _, s in scored], marker="o", color="#1e8449")
        line.set_ylim(0, 5.2)
        line.set_ylabel(labels("score"))
        first, last = period_days(report, tz)
        ax.set_title(f"{labels('trend')} {first} – {last}")
        ax.tick_params(axis="x", rotation=30)

    return _styled(draw, 7, 4, path)


def draw_charts(report: Report, labels: Labels, tz: tzinfo, folder: Path) -> dict[str, Path]:
    """Every chart of the report as PNG in ``folder``: name -> file."""
    return {name: draw_chart(name, report, labels, tz, folder) for name in CHART_NAMES}


CHART_NAMES = ("pareto", "fishbone", "trend")


def draw_chart(name: str, report: Report, labels: Labels, tz: tzinfo, folder: Path) -> Path:
    """One chart (``pareto``, ``fishbone`` or ``trend``) as ``folder/NAME.png``: the console
    shows each chart as its own image, and drawing all three for each was three times the work.
    """
    path = folder / f"{name}.png"
    if name == "pareto":
        return pareto_chart(report, labels, path)
    if name == "fishbone":
        return fishbone_chart(report, labels, path)
    if name == "trend":
        return trend_chart(report, labels, tz, path)
    raise ValueError(f"no chart {name!r}")
