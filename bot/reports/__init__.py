"""What a service manager reads: volumes, SLA compliance, satisfaction, complaint Pareto."""

from bot.reports.service import Report, build_report, pareto

__all__ = ["Report", "build_report", "pareto"]
