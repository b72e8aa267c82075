"""NLU settings: thresholds of the offline classifier (used by bot.nlu)."""

from __future__ import annotations

from bot.config.base import Count, Fraction, Section


class NLUSettings(Section):
    auto_train: bool = True
    # Below `threshold` (or when the two best intents are closer than `margin`) the top intent is
    # not trusted: the parse says `nlu_fallback` and a clarifying question is asked; below
    # `oos_threshold` the message is treated as out of scope. Values chosen by 5-fold
    # cross-validation of the training data (`kefu nlu eval --cv 5`).
    threshold: Fraction = 0.3
    oos_threshold: Fraction = 0.2
    margin: Fraction = 0.05
    # Below this the FAQ response selector gives no answer key (intent_response_key None).
    faq_threshold: Fraction = 0.3
    max_chars: Count = 1000
    # A ticket intent (repair, complaint, order, payment) below this confidence is not acted
    # on: the parse says `nlu_fallback` (clarify) so that small talk opens no ticket. Tuned on
    # held-out data (tests/nlu/external/chatterbot_dev.tsv), never on the training set.
    ticket_threshold: Fraction = 0.5
    # The emergency detector emits an `emergency` entity at or above this probability.
    emergency_threshold: Fraction = 0.5
