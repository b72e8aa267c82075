"""What a service manager reads: volumes, SLA compliance, call-backs, complaint handling against
its target, satisfaction, per building and per agent, complaint causes (Pareto and fishbone).

Computation (``facts``, ``compute``) is pure; ``query`` reads the store; ``text``, ``workbook``,
``charts`` render; ``schedule`` posts the weekly and monthly reports to the managers' chat."""

from bot.reports.compute import Report, pareto, summarise
from bot.reports.service import build_report

__all__ = ["Report", "build_report", "pareto", "summarise"]
