"""The report as a PDF (``kefu report --pdf FILE``): the text on the first pages, then the
charts, through matplotlib's PdfPages (no other dependency)."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from bot.reports.charts import cjk_family, draw_charts, use_agg
from bot.reports.compute import Report
from bot.reports.labels import Labels
from bot.reports.text import render_text

LINES_PER_PAGE = 60


def write_pdf(report: Report, path: Path, tz: tzinfo, labels: Labels, work: Path) -> Path:
    """Write the PDF to ``path``; the chart images are drawn in ``work`` first."""
    use_agg()  # matplotlib is imported here, when a PDF is written, not with this module
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.image import imread

    charts = draw_charts(report, labels, tz, work)
    family = cjk_family()
    lines = render_text(report, tz, labels).splitlines()
    path.parent.mkdir(parents=True, exist_ok=True)
    fonts = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    with plt.rc_context({"font.family": fonts}), PdfPages(path) as pdf:
        for first in range(0, max(len(lines), 1), LINES_PER_PAGE):
            fig = plt.figure(figsize=(8.27, 11.69))  # A4
            fig.text(0.06, 0.96, "\n".join(lines[first : first + LINES_PER_PAGE]),
                     va="top", ha="left", fontsize=8, linespacing=1.5)  # fmt: skip
            pdf.savefig(fig)
            plt.close(fig)
        for png in charts.values():
            fig = plt.figure(figsize=(11.69, 8.27))
            ax = fig.add_axes((0.03, 0.03, 0.94, 0.94))
            ax.imshow(imread(png))
            ax.axis("off")
            pdf.savefig(fig)
            plt.close(fig)
    return path
