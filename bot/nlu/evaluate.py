"""Evaluation of the intent classifier: on a labelled file, or by cross-validating training data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import Settings
from bot.nlu.data import TrainingData
from bot.nlu.entities import LookupMatcher, extract_entities
from bot.nlu.hazard import ENTITY, NO_HAZARD, hazard_labels
from bot.nlu.interpreter import (
    _TRAINING_NOW,
    FALLBACK_INTENT,
    OUT_OF_SCOPE_INTENT,
    Interpreter,
    fit_arrays,
)
from bot.nlu.language import detect_language

Predict = Callable[[str], dict[str, Any]]

# Intents that open a ticket (a form ending in a ticket) when they win: a false one costs staff
# time, so these are what a negatives file measures.
TICKET_INTENTS = ("repair", "complaint", "order", "payment")
# First line of a labelled file whose every message must open no ticket.
NEGATIVES_FLAG = "# kefu: negatives"


def accepted(gold: str, predicted: str) -> str:
    """The gold label to score against: ``a|b`` in a test file accepts either intent."""
    options = gold.split("|")
    return predicted if predicted in options else options[0]


def evaluate(
    examples: Sequence[tuple[str, str]],
    predict: Predict,
    *,
    known_intents: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Score ``predict`` (a parse function) on ``(text, intent)`` pairs; return a report dict."""
    gold: list[str] = []
    pred: list[str] = []
    top: list[str] = []
    scripts: list[str] = []
    for text, intent in examples:
        result = predict(text)
        gold.append(accepted(intent, result["intent"]["name"]))
        pred.append(result["intent"]["name"])
        ranking = result.get("intent_ranking") or [result["intent"]]
        top.append(ranking[0]["name"])
        scripts.append(detect_language(text) or "other")
    return report(gold, pred, top, scripts, [t for t, _ in examples], known_intents)


def report(
    gold: list[str],
    pred: list[str],
    top: list[str],
    scripts: list[str],
    texts: list[str],
    known_intents: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-intent P/R/F1, confusions, out-of-scope recall, per script."""
    n = len(gold)
    correct = [g == p for g, p in zip(gold, pred, strict=True)]
    labels = sorted(set(gold))
    per_intent: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == p == label)
        predicted = sum(1 for p in pred if p == label)
        support = sum(1 for g in gold if g == label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    confusions = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    examples_of: dict[tuple[str, str], str] = {}
    for text, g, p in zip(texts, gold, pred, strict=True):
        if g != p:
            examples_of.setdefault((g, p), text)
    by_script: dict[str, dict[str, float]] = {}
    for script in sorted(set(scripts)):
        idx = [i for i, s in enumerate(scripts) if s == script]
        by_script[script] = {
            "accuracy": round(sum(correct[i] for i in idx) / len(idx), 4),
            "support": len(idx),
        }
    oos = [i for i, g in enumerate(gold) if g == OUT_OF_SCOPE_INTENT]
    out: dict[str, Any] = {
        "examples": n,
        "accuracy": round(sum(correct) / n, 4) if n else 0.0,
        "top1_accuracy": round(sum(g == t for g, t in zip(gold, top, strict=True)) / n, 4)
        if n
        else 0.0,
        "macro_f1": round(float(np.mean([v["f1"] for v in per_intent.values()])), 4)
        if per_intent
        else 0.0,
        "fallback_rate": round(sum(p == "nlu_fallback" for p in pred) / n, 4) if n else 0.0,
        "out_of_scope_recall": round(sum(correct[i] for i in oos) / len(oos), 4) if oos else None,
        "by_script": by_script,
        "per_intent": per_intent,
        "confusions": [
            {"gold": g, "predicted": p, "count": c, "example": examples_of[(g, p)]}
            for (g, p), c in confusions.most_common(15)
        ],
        "errors": [
            {"text": t, "gold": g, "predicted": p}
            for t, g, p in zip(texts, gold, pred, strict=True)
            if g != p
        ],
    }
    if known_intents is not None:
        unknown = sorted(set(gold) - set(known_intents) - {FALLBACK_INTENT})
        if unknown:
            out["unknown_intents"] = unknown
    return out


def false_tickets(texts: Sequence[str], predict: Predict) -> dict[str, Any]:
    """Share of messages that would open a ticket (``TICKET_INTENTS``), overall and per script.

    Meant for negatives: small talk, commands and trivia that a person would be annoyed to see
    turned into a repair or a complaint. The intent is the final one, after every threshold.
    """
    opened: list[tuple[str, str, str]] = []
    totals: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for text in texts:
        intent = predict(text)["intent"]["name"]
        script = detect_language(text) or "other"
        totals[script] += 1
        if intent in TICKET_INTENTS:
            hits[script] += 1
            opened.append((text, intent, script))
    n = sum(totals.values())
    return {
        "examples": n,
        "rate": round(len(opened) / n, 4) if n else 0.0,
        "by_script": {
            s: {"rate": round(hits[s] / totals[s], 4), "support": totals[s]} for s in sorted(totals)
        },
        "by_intent": dict(Counter(intent for _, intent, _ in opened).most_common()),
        "opened": [{"text": t, "intent": i, "script": s} for t, i, s in opened],
    }


def is_negatives_file(path: Path) -> bool:
    """Whether a labelled file starts with :data:`NEGATIVES_FLAG` (every message a negative)."""
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().startswith(NEGATIVES_FLAG)
    except (OSError, UnicodeDecodeError):
        return False


def format_false_tickets(result: dict[str, Any], title: str) -> str:
    """Human-readable false-ticket report for ``kefu nlu eval --negatives``."""
    lines = [
        title,
        f"messages {result['examples']}  false-ticket rate {result['rate']:.1%}  "
        + "  ".join(f"{k} {v}" for k, v in result["by_intent"].items()),
        "false-ticket rate by script: "
        + "  ".join(
            f"{s} {v['rate']:.1%} ({v['support']})" for s, v in result["by_script"].items()
        ),
    ]
    if result["opened"]:
        lines.append(
            "e.g. " + "  ".join(f"{o['text']!r}->{o['intent']}" for o in result["opened"][:8])
        )
    return "\n".join(lines)


def cross_validate(
    data: TrainingData, settings: Settings, k: int = 5, seed: int = 0
) -> dict[str, Any]:
    """Stratified k-fold cross-validation of the whole pipeline on the training data."""
    from sklearn.model_selection import StratifiedKFold

    texts = [t for t, _ in data.examples]
    labels = [i for _, i in data.examples]
    counts = Counter(labels)
    k = max(2, min(k, min(counts.values()))) if counts else 2
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    gold: list[str] = []
    pred: list[str] = []
    top: list[str] = []
    scripts: list[str] = []
    seen: list[str] = []
    matcher = LookupMatcher(data.lookups)
    hazards = hazard_labels(
        data.examples,
        data.hazards,
        lambda text: extract_entities(text, now=_TRAINING_NOW, lookups=matcher),
    )
    hazard_gold: list[str] = []
    hazard_pred: list[str] = []
    for train_idx, test_idx in folds.split(texts, labels):
        train_texts = {texts[i] for i in train_idx}
        fold = TrainingData(
            examples=[data.examples[i] for i in train_idx],
            responses=[r for r in data.responses if r[0] in train_texts],
            lookups=data.lookups,
            hazards=data.hazards,
        )
        interpreter = Interpreter(fit_arrays(fold, settings.nlu, settings.default_region), settings)
        for i in test_idx:
            result = interpreter.parse(texts[i])
            gold.append(labels[i])
            pred.append(result["intent"]["name"])
            top.append(result["intent_ranking"][0]["name"])
            scripts.append(detect_language(texts[i]) or "other")
            seen.append(texts[i])
            hazard_gold.append(hazards[i])
            hazard_pred.append(
                next((e["value"] for e in result["entities"] if e["entity"] == ENTITY), NO_HAZARD)
            )
    out = report(gold, pred, top, scripts, seen)
    out["folds"] = k
    out["emergency"] = hazard_report(hazard_gold, hazard_pred)
    return out


def hazard_report(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Emergency detection: recall of the right hazard, and false alarms among the rest."""
    real = [p == g for g, p in zip(gold, pred, strict=True) if g != NO_HAZARD]
    alarms = [p != NO_HAZARD for g, p in zip(gold, pred, strict=True) if g == NO_HAZARD]
    return {
        "recall": round(sum(real) / len(real), 4) if real else None,
        "support": len(real),
        "false_alarm_rate": round(sum(alarms) / len(alarms), 4) if alarms else None,
        "negatives": len(alarms),
    }


def format_report(result: dict[str, Any], title: str) -> str:
    """Human-readable text for ``kefu nlu eval``."""
    lines = [title]
    oos = result.get("out_of_scope_recall")
    lines.append(
        f"examples {result['examples']}  accuracy {result['accuracy']:.3f}  "
        f"(top-1 before thresholds {result['top1_accuracy']:.3f})  "
        f"macro-F1 {result['macro_f1']:.3f}  fallback {result['fallback_rate']:.1%}  "
        f"out-of-scope recall {'n/a' if oos is None else f'{oos:.3f}'}"
    )
    lines.append(
        "accuracy by script: "
        + "  ".join(
            f"{script} {v['accuracy']:.3f} ({v['support']})"
            for script, v in result["by_script"].items()
        )
    )
    lines.append("")
    lines.append(f"{'intent':<14}{'precision':>10}{'recall':>8}{'f1':>7}{'support':>9}")
    for intent, v in result["per_intent"].items():
        lines.append(
            f"{intent:<14}{v['precision']:>10.3f}{v['recall']:>8.3f}{v['f1']:>7.3f}"
            f"{v['support']:>9}"
        )
    if result["confusions"]:
        lines.append("")
        lines.append("top confusions (gold -> predicted):")
        for c in result["confusions"][:10]:
            lines.append(f"  {c['gold']} -> {c['predicted']}: {c['count']}   e.g. {c['example']!r}")
    emergency = result.get("emergency")
    if emergency and emergency.get("recall") is not None:
        lines.append(
            f"emergencies: recall {emergency['recall']:.3f} ({emergency['support']})  "
            f"false alarms {emergency['false_alarm_rate']:.2%} ({emergency['negatives']})"
        )
    if result.get("unknown_intents"):
        lines.append(f"intents not in the model: {', '.join(result['unknown_intents'])}")
    return "\n".join(lines)
