"""Training, loading and running the NLU model (``train``, ``load_interpreter``, ``Interpreter``).

The model file is ``models/nlu-<hash>.joblib`` where ``<hash>`` is the start of the sha256 of the
parsed training data; ``nlu-<hash>.json`` beside it holds the full data hash and the sha256 of the
model file, so a changed data set (stale model) or a damaged file (corrupt model) is detected
before anything is unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.clock import Clock, SystemClock
from bot.config import NLUSettings, Settings
from bot.nlu import hazard, policy
from bot.nlu.data import (
    FEATURE_VERSION,
    DataError,
    TrainingData,
    load_training_data,
    source_digest,
)
from bot.nlu.entities import ENTITY_SCAN_CHARS, LookupMatcher, extract_normalized
from bot.nlu.language import detect_language
from bot.nlu.model import Scorer, char_features, entity_features, fit
from bot.nlu.normalize import fold_for_features, normalize_with_map

log = logging.getLogger(__name__)

FALLBACK_INTENT = policy.FALLBACK_INTENT
OUT_OF_SCOPE_INTENT = policy.OUT_OF_SCOPE_INTENT
RETRIEVAL_INTENT = "inquiry"
# Response-selector class for inquiries that no FAQ topic answers (never shown to callers).
NO_FAQ_KEY = "inquiry/__none__"
# A fixed reference time for entity features during training (values do not matter, types do).
_TRAINING_NOW = datetime.fromisoformat("2026-01-05T10:00:00+08:00")
_HASH_CHARS = 16
_KEEP_OLD_MODELS = 3


class ModelError(Exception):
    """The NLU model is missing, stale or corrupt; the message says what to run."""


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` produced."""

    model_path: Path
    metadata_path: Path
    data_sha256: str
    model_sha256: str
    examples: int
    intents: list[str]
    response_keys: list[str]
    features: int
    seconds: float
    model_bytes: int


def features_for(
    raw: str, max_chars: int, now: datetime, region: str, lookups: LookupMatcher | None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Classifier features and entities of one message (shared by training and parsing)."""
    scan = raw[:ENTITY_SCAN_CHARS]
    norm, index = normalize_with_map(scan)
    entities = extract_normalized(scan, norm, index, now=now, region=region, lookups=lookups)
    feats = char_features(fold_for_features(norm[:max_chars]))
    feats.extend(entity_features(entities))
    return feats, entities


def fit_arrays(
    data: TrainingData,
    nlu: NLUSettings,
    region: str,
    *,
    estimators: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit a model on ``data``; return the artifact dict (without writing anything)."""
    matcher = LookupMatcher(data.lookups)
    cache: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}

    def parsed(text: str) -> tuple[list[str], list[dict[str, Any]]]:
        if text not in cache:
            cache[text] = features_for(text, nlu.max_chars, _TRAINING_NOW, region, matcher)
        return cache[text]

    def feats(text: str) -> list[str]:
        return parsed(text)[0]

    x = [feats(text) for text, _ in data.examples]
    y = [intent for _, intent in data.examples]
    rx = [feats(text) for text, _ in data.responses]
    ry = [key for _, key in data.responses]
    if ry:
        # Inquiries that no FAQ topic answers teach the selector to say "none of these", so a
        # general question is not answered with the nearest FAQ topic.
        faq_texts = {text for text, _ in data.responses}
        general = [t for t, i in data.examples if i == RETRIEVAL_INTENT and t not in faq_texts]
        rx += [feats(text) for text in general]
        ry += [NO_FAQ_KEY] * len(general)
    hazards = hazard.hazard_labels(data.examples, data.hazards, lambda t: parsed(t)[1])
    arrays = fit(x, y, rx, ry, estimators=estimators, hazards=hazards)
    arrays["lookups"] = {k: list(v) for k, v in data.lookups.items()}
    arrays["format"] = FEATURE_VERSION
    return arrays


def _model_paths(models_dir: Path, data_sha: str) -> tuple[Path, Path]:
    stem = f"nlu-{data_sha[:_HASH_CHARS]}"
    return models_dir / f"{stem}.joblib", models_dir / f"{stem}.json"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_data(settings: Settings) -> TrainingData:
    try:
        data = load_training_data(settings.dialogues_dir)
    except DataError as exc:
        raise ModelError(f"NLU training data: {exc}") from None
    if not data.examples:
        raise ModelError(f"NLU training data: no intent examples under {settings.dialogues_dir}")
    return data


def train(settings: Settings) -> TrainResult:
    """Train on every ``nlu:`` section under ``settings.dialogues_dir``; write ``models/nlu-*``."""
    started = time.perf_counter()
    source_before = source_digest(settings.dialogues_dir)
    data = _load_data(settings)
    data_sha = data.fingerprint()
    # Only when the files did not change while they were read: the key must name this data.
    source = source_before if source_digest(settings.dialogues_dir) == source_before else None
    arrays = fit_arrays(data, settings.nlu, settings.default_region)
    arrays["data_sha256"] = data_sha
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    model_path, meta_path = _model_paths(settings.models_dir, data_sha)
    import joblib  # here and in load: ~0.1 s CPU that importing the interpreter need not pay

    _atomic_write(model_path, lambda tmp: joblib.dump(arrays, tmp, compress=3))
    model_sha = _sha256_file(model_path)
    seconds = time.perf_counter() - started
    intents = list(arrays["classes"])
    meta = {
        "format": FEATURE_VERSION,
        "data_sha256": data_sha,
        "source_sha256": source,
        "model_sha256": model_sha,
        "model_file": model_path.name,
        "examples": len(data.examples),
        "intents": intents,
        "response_keys": [k for k in arrays["rs_keys"] if k != NO_FAQ_KEY],
        "features": len(arrays["vocab"]),
        "files": [str(p) for p in data.files],
        "train_seconds": round(seconds, 3),
    }
    _atomic_write(
        meta_path,
        lambda tmp: tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8"),
    )
    _prune_old_models(settings.models_dir, keep={model_path.name, meta_path.name})
    log.info(
        "trained NLU model %s on %d examples in %.2fs", model_path.name, len(data.examples), seconds
    )
    return TrainResult(
        model_path=model_path,
        metadata_path=meta_path,
        data_sha256=data_sha,
        model_sha256=model_sha,
        examples=len(data.examples),
        intents=intents,
        response_keys=[k for k in arrays["rs_keys"] if k != NO_FAQ_KEY],
        features=len(arrays["vocab"]),
        seconds=seconds,
        model_bytes=model_path.stat().st_size,
    )


@contextlib.contextmanager
def _training_lock(models_dir: Path) -> Iterator[None]:
    """One trainer at a time per models folder.

    Several processes started together (webhook workers, a follow-up worker, a test run's
    processes) would otherwise each train the same missing model, seconds of CPU apiece; with
    the lock the first trains and the others load its file. Advisory (``flock``), released when
    the holder exits, even by SIGKILL; where ``fcntl`` is missing, training is not serialized.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / ".train.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune_old_models(models_dir: Path, keep: set[str]) -> None:
    """Keep the newest few NLU models (a shared folder must not grow without bound)."""
    try:
        models = sorted(
            (p for p in models_dir.glob("nlu-*.joblib") if p.name not in keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in models[_KEEP_OLD_MODELS:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)
    except OSError:
        pass


def _read_artifact(model_path: Path, meta_path: Path, data_sha: str) -> dict[str, Any]:
    hint = "run `kefu train`"
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"NLU model metadata {meta_path} is unreadable ({exc}); {hint}") from None
    if not isinstance(meta, dict) or meta.get("format") != FEATURE_VERSION:
        raise ModelError(f"NLU model {model_path.name} was made by another Kefu version; {hint}")
    if meta.get("data_sha256") != data_sha:
        raise ModelError(f"NLU model {model_path.name} does not match the training data; {hint}")
    try:
        actual = _sha256_file(model_path)
    except OSError as exc:
        raise ModelError(f"NLU model {model_path} is unreadable ({exc}); {hint}") from None
    if actual != meta.get("model_sha256"):
        raise ModelError(f"NLU model {model_path} is corrupt (checksum mismatch); {hint}")
    import joblib

    try:
        arrays = joblib.load(model_path)
    except Exception as exc:
        raise ModelError(f"NLU model {model_path} cannot be loaded ({exc}); {hint}") from None
    if not isinstance(arrays, dict) or arrays.get("data_sha256") != data_sha:
        raise ModelError(f"NLU model {model_path} is corrupt; {hint}")
    return arrays


def _trained_on_these_files(models_dir: Path, dialogues_dir: Path) -> str | None:
    """The data hash of a model trained on exactly the current files' bytes, if there is one.

    Saves parsing the training data (most of a second) at each start when nothing changed;
    the model is still checked against that hash and its checksum when it is read.
    """
    source = source_digest(dialogues_dir)
    if source is None:
        return None
    for meta_path in models_dir.glob("nlu-*.json"):
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if (
            isinstance(meta, dict)
            and meta.get("source_sha256") == source
            and meta.get("format") == FEATURE_VERSION
            and isinstance(meta.get("data_sha256"), str)
        ):
            return str(meta["data_sha256"])
    return None


def load_interpreter(
    settings: Settings, *, auto_train: bool | None = None, clock: Clock | None = None
) -> Interpreter:
    """Load the model for the current training data; retrain if missing/stale and allowed.

    ``auto_train`` defaults to ``settings.nlu.auto_train``. Without it a missing or stale model
    raises :class:`ModelError`; a corrupt model file always does. ``clock`` gives "now" for
    relative dates when :meth:`Interpreter.parse` is called without ``now``.
    """
    allow = settings.nlu.auto_train if auto_train is None else auto_train
    data_sha = _trained_on_these_files(settings.models_dir, settings.dialogues_dir)
    if data_sha is None:
        data_sha = _load_data(settings).fingerprint()
    model_path, meta_path = _model_paths(settings.models_dir, data_sha)
    if not (model_path.exists() and meta_path.exists()):
        if not allow:
            others = list(settings.models_dir.glob("nlu-*.joblib"))
            state = "is stale (the training data changed)" if others else "is missing"
            raise ModelError(f"NLU model in {settings.models_dir} {state}; run `kefu train`")
        with _training_lock(settings.models_dir):
            # Another process may have trained it while we waited for the lock.
            if not (model_path.exists() and meta_path.exists()):
                # The data may change while we train: load what was trained, under its own hash.
                result = train(settings)
                model_path, meta_path, data_sha = (
                    result.model_path,
                    result.metadata_path,
                    result.data_sha256,
                )
    arrays = _read_artifact(model_path, meta_path, data_sha)
    return Interpreter(arrays, settings, clock=clock, model_path=model_path)


class Interpreter:
    """Parses one message into Rasa's parse format (+ ``language``). Never raises."""

    def __init__(
        self,
        arrays: dict[str, Any],
        settings: Settings,
        *,
        clock: Clock | None = None,
        model_path: Path | None = None,
    ) -> None:
        self.scorer = Scorer(arrays)
        self.nlu = settings.nlu
        self.region = settings.default_region
        self.clock: Clock = clock or SystemClock(settings.tz)
        self.lookups = LookupMatcher(arrays.get("lookups") or {})
        self.model_path = model_path
        self.model_hash: str = str(arrays.get("data_sha256", ""))[:_HASH_CHARS]
        self.intents: list[str] = list(self.scorer.classes)

    def parse(self, text: str, *, now: datetime | None = None) -> dict[str, Any]:
        """Classify ``text`` and extract its entities. Any input gives a valid result."""
        raw = _as_text(text)
        try:
            return self._parse(raw, now or self.clock.now())
        except Exception:  # last line of defence: a bug must not reach the user
            log.exception("NLU parse failed")
            return {
                "text": raw,
                "intent": {"name": FALLBACK_INTENT, "confidence": 0.0},
                "intent_ranking": [],
                "entities": [],
                "language": None,
                "response_selector": {},
            }

    def _parse(self, raw: str, now: datetime) -> dict[str, Any]:
        feats, entities = features_for(raw, self.nlu.max_chars, now, self.region, self.lookups)
        idx, weights = self.scorer.vectorise(feats)
        ranking = self._rank(self.scorer.classes, self.scorer.intent_probs(idx, weights), 10)
        found, found_p = hazard.detect(
            self.scorer.hz_classes,
            self.scorer.hazard_probs(idx, weights),
            self.nlu.emergency_threshold,
            raw,
        )
        if found != hazard.NO_HAZARD and not hazard.corroborated(
            found, found_p, ranking[0]["name"]
        ):
            found, found_p = hazard.NO_HAZARD, 0.0
        entities = hazard.merge(entities, found, found_p, len(raw))
        intent = policy.decide(
            ranking,
            has_signal=bool(idx.size),
            nlu=self.nlu,
            text=raw,
            entities=entities,
            hazard=None if found == hazard.NO_HAZARD else found,
            hazard_confidence=found_p,
        )
        result: dict[str, Any] = {
            "text": raw,
            "intent": intent,
            "intent_ranking": ranking,
            "entities": entities,
            "language": detect_language(raw),
            "response_selector": {},
        }
        if self.scorer.rs_keys:
            result["response_selector"] = self._select_response(idx, weights)
        return result

    def _select_response(self, idx: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
        """Rasa's response-selector output for the FAQ (``inquiry/<topic>``) keys."""
        probs = self.scorer.response_probs(idx, weights)
        keys = self.scorer.rs_keys
        ranking = [r for r in self._rank(keys, probs, 6) if r["name"] != NO_FAQ_KEY][:5]
        key: str | None = ranking[0]["name"] if ranking else None
        confidence: float = ranking[0]["confidence"] if ranking else 0.0
        none_p = float(probs[keys.index(NO_FAQ_KEY)]) if NO_FAQ_KEY in keys else 0.0
        if confidence < self.nlu.faq_threshold or none_p > confidence:
            key = None
        return {
            RETRIEVAL_INTENT: {
                "response": {
                    "intent_response_key": key,
                    "utter_action": f"utter_{key}" if key else None,
                    "confidence": confidence,
                },
                "ranking": [
                    {"intent_response_key": r["name"], "confidence": r["confidence"]}
                    for r in ranking
                ],
            }
        }

    @staticmethod
    def _rank(names: list[str], probs: np.ndarray, limit: int) -> list[dict[str, Any]]:
        order = np.argsort(-probs)[:limit]
        return [{"name": names[i], "confidence": round(float(probs[i]), 4)} for i in order]


def _as_text(text: Any) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, bytes | bytearray):
        return bytes(text).decode("utf-8", errors="replace")
    return "" if text is None else str(text)
