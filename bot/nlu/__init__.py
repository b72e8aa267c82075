"""Offline NLU: intent classification, FAQ response selection, entities and reply language.

Public API (other packages code against this)::

    interpreter = load_interpreter(settings)           # trains first if needed and allowed
    result = interpreter.parse("部電梯壞咗", now=clock.now())
    train(settings)                                     # `kefu train`
    detect_language("我的order幾時到")                  # "zh-Hant"

``parse`` returns Rasa's parse format plus ``language`` and never raises::

    {"text": ..., "intent": {"name": "repair", "confidence": 0.97},
     "intent_ranking": [... up to 10 real candidates ...],
     "entities": [{"entity": "unit", "value": {...}, "start": 0, "end": 10,
                   "extractor": "KefuUnitExtractor"}, ...],
     "language": "zh-Hant" | "zh-Hans" | "en" | None,
     "response_selector": {"inquiry": {"response": {"intent_response_key": "inquiry/pets"|None,
                                                    "utter_action": ..., "confidence": ...},
                                       "ranking": [... top 5 FAQ keys ...]}}}

``intent.name`` is ``nlu_fallback`` when the top candidate is below ``nlu.threshold`` or within
``nlu.margin`` of the second (ask which of the two was meant), when a ticket intent (repair,
complaint, order, payment) is below ``nlu.ticket_threshold``, or when the message is only a
phone number, amount or number (never ``goodbye``; a bare order number is ``order``); and
``out_of_scope`` below ``nlu.oos_threshold`` or when nothing in the message is known. A reported
emergency adds one ``{"entity": "emergency", "value": "gas"|"trapped"|"burst_pipe"|"fire"|
"power_cut"|"flooding", ...}`` (the hazard detector, keywords as a backstop; see
:mod:`bot.nlu.hazard`) and makes the intent ``repair``. ``intent_response_key`` is None
when no FAQ topic is confident (below ``nlu.faq_threshold``, or a general question).
Entity helpers (``parse_unit``, ``format_unit``, ``unit_key``, ``parse_phone``,
``parse_datetime``, ``extract_entities``) live in :mod:`bot.nlu.entities`.
"""

from typing import TYPE_CHECKING, Any

from bot.nlu.language import detect_language

if TYPE_CHECKING:
    from bot.nlu.interpreter import (
        FALLBACK_INTENT,
        OUT_OF_SCOPE_INTENT,
        Interpreter,
        ModelError,
        TrainResult,
        load_interpreter,
        train,
    )

# The interpreter (numpy, the model) is imported on first use of one of its names: importing
# bot.nlu.entities (a unit or phone parser, for most `kefu` commands) runs this file too.
_INTERPRETER = {
    "FALLBACK_INTENT",
    "OUT_OF_SCOPE_INTENT",
    "Interpreter",
    "ModelError",
    "TrainResult",
    "load_interpreter",
    "train",
}


def __getattr__(name: str) -> Any:
    """``from bot.nlu import load_interpreter`` and friends, imported when first asked for."""
    if name in _INTERPRETER:
        from bot.nlu import interpreter

        return getattr(interpreter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
