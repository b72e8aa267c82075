"""Kefu's actions: rasa_sdk ``Action`` and ``FormValidationAction`` subclasses.

They run in-process through rasa_sdk's executor, or under ``kefu actions serve`` as a standard
Rasa action server. They never carry user-facing text: they name responses in ``dialogues/``.
"""

from __future__ import annotations

import functools
import importlib
import inspect

from rasa_sdk import Action
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
    """An executor (``executor``, else a plain one) with every Kefu action registered.

    The actions are the concrete ``Action`` classes defined in ``modules``, registered with
    rasa_sdk's ``register_action``. (``register_package`` registers every ``Action`` subclass
    the process has imported, anywhere, and did so once per module: thirteen scans at every
    app build, 15 ms, where one list does.)
    """
    executor = executor if executor is not None else ActionExecutor()
    for action in _actions(modules):
        executor.register_action(action)
    return executor


@functools.cache
def _actions(modules: tuple[str, ...]) -> tuple[type[Action], ...]:
    found: list[type[Action]] = []
    for name in modules:
        for value in vars(importlib.import_module(name)).values():
            if (
                isinstance(value, type)
                and issubclass(value, Action)
                and value.__module__ == name
                and not inspect.isabstract(value)
            ):
                found.append(value)
    return tuple(found)
