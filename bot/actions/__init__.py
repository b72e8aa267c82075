"""Kefu's actions: rasa_sdk ``Action`` and ``FormValidationAction`` subclasses.

They run in-process through rasa_sdk's executor, or under ``kefu actions serve`` as a standard
Rasa action server. They never carry user-facing text: they name responses in ``dialogues/``.
"""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

ACTION_MODULES = (
    "bot.actions.common",
    "bot.actions.faq",
    "bot.actions.repair",
    "bot.actions.emergency",
    "bot.actions.complaint",
    "bot.actions.feedback",
    "bot.actions.tickets",
    "bot.actions.ticket_status",
    "bot.actions.orders",
    "bot.actions.fees",
    "bot.actions.survey",
    "bot.actions.evaluation",
    "bot.actions.notices",
)


def build_executor(
    modules: tuple[str, ...] = ACTION_MODULES, *, executor: ActionExecutor | None = None
) -> ActionExecutor:
    """An executor (``executor``, else a plain one) with every Kefu action registered."""
    executor = executor if executor is not None else ActionExecutor()
    for module in modules:
        executor.register_package(module)
    return executor
