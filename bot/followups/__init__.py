"""Durable follow-ups: scheduled work (surveys, SLA warnings, escalations) kept in the database
and run by leased workers. APScheduler only wakes the workers."""

from bot.followups.lease import claim_due, complete
from bot.followups.models import CUSTOMER_FACING, Followup, FollowupKind, FollowupStatus
from bot.followups.service import cancel_for_ticket, list_followups, schedule
from bot.followups.worker import FollowupHandler, FollowupWorker, RetryLater

__all__ = [
    "CUSTOMER_FACING",
    "Followup",
    "FollowupHandler",
    "FollowupKind",
    "FollowupStatus",
    "FollowupWorker",
    "RetryLater",
    "cancel_for_ticket",
    "claim_due",
    "complete",
    "list_followups",
    "schedule",
]
