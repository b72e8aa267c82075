"""Offline NLU: intent classification, FAQ response selection, entities and reply language.

Public API (other packages code against this)::

    interpreter = load_interpreter(settings)          # trains if needed and allowed
    result = interpreter.parse("部電梯壞咗", now=clock.now())
    train(settings)                                    # `kefu train`
    detect_language("我的order幾時到")                 # "zh-Hant"
"""

from bot.nlu.interpreter import (
    FALLBACK_INTENT,
    OUT_OF_SCOPE_INTENT,
    Interpreter,
    ModelError,
    TrainResult,
    load_interpreter,
    train,
)
from bot.nlu.language import detect_language

__all__ = [
    "FALLBACK_INTENT",
    "OUT_OF_SCOPE_INTENT",
    "Interpreter",
    "ModelError",
    "TrainResult",
    "detect_language",
    "load_interpreter",
    "train",
]
