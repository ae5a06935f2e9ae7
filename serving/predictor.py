"""Turn validated records into predictions: one model call per batch of records, compiled when possible.

The reference is always `pipeline.predict_proba(model_frame(records))` (what training and evaluation use).
The fast path encodes records with `serving.compiled` and calls the estimator on the matrix; it is used only
after it reproduced the reference on sample rows, so a pipeline the compiler misreads costs speed, not
correctness.
"""

from __future__ import annotations

import logging
import random
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.data import model_frame
from ml.errors import IntegrityError
from ml.params import Feature, Params
from serving.compiled import NotCompilable, RecordEncoder, compile_encoder

log = logging.getLogger("serving")

FAST_PATH_TOLERANCE = 1e-9
GOLDEN_TOLERANCE = 1e-6
UNSEEN_SAMPLE = "__never_seen_in_training__"


@dataclass(frozen=True)
class Outputs:
    """Per-record predictions (JSON-ready labels or numbers) and, for classifiers, one probability each."""

    predictions: list[Any]
    probabilities: list[float] | None


class NonFiniteOutput(ArithmeticError):
    """The model answered inf or NaN (extreme inputs overflowing, say): JSON would carry it as a silent null."""


class Predictor:
    def __init__(self, pipeline: Any, params: Params):
        self.pipeline = pipeline
        self.params = params
        self.classification = params.task == "classification"
        self.estimator = pipeline[-1] if hasattr(pipeline, "steps") else pipeline
        self.classes = np.asarray(pipeline.classes_) if self.classification else None
        self.binary = self.classification and len(self.classes) == 2
        self.encoder: RecordEncoder | None = None
        try:
            self.encoder = compile_encoder(pipeline, {f.name: f.type for f in params.features})
        except NotCompilable as exc:
            log.info("serving through the pipeline (no compiled fast path: %s)", exc)

    @property
    def path(self) -> str:
        return "compiled" if self.encoder is not None else "pipeline"

    def scores(self, records: list[dict[str, Any]], reference: bool = False) -> np.ndarray:
        """predict_proba (classification) or predict (regression) for the records, as a float array."""
        if self.encoder is None or reference:
            frame = pd.DataFrame.from_records(records, columns=self.params.feature_names)
            model, inputs = self.pipeline, model_frame(frame, self.params)
        else:
            model, inputs = self.estimator, self.encoder.encode(records)
        if self.classification:
            return model.predict_proba(inputs)
        return np.asarray(model.predict(inputs), dtype=np.float64)

    def predict(self, records: list[dict[str, Any]]) -> Outputs:
        scores = self.scores(records)
        if not np.isfinite(scores).all():
            raise NonFiniteOutput("the model answered inf or NaN")
        if not self.classification:
            return Outputs(scores.tolist(), None)
        # The label predict() would give (argmax of the probabilities) without a second model call.
        labels = self.classes[np.argmax(scores, axis=1)].tolist()
        probability = scores[:, -1] if self.binary else scores.max(axis=1)
        return Outputs(labels, probability.tolist())

    def check_fast_path(self, records: list[dict[str, Any]]) -> float:
        """Largest difference between the compiled path and the pipeline; drops the fast path beyond 1e-9."""
        if self.encoder is None:
            return 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            difference = float(np.max(np.abs(self.scores(records) - self.scores(records, reference=True))))
        if not difference <= FAST_PATH_TOLERANCE:
            log.warning("compiled fast path differs from the pipeline by %.3g; serving through the pipeline",
                        difference)
            self.encoder = None
        return difference

    def check_golden(self, golden: list[dict[str, Any]]) -> None:
        """The expected outputs recorded at training time must come back, or the model is not what was tested."""
        if not golden:
            return
        outputs = self.predict([entry["features"] for entry in golden])
        for i, entry in enumerate(golden):
            got = outputs.predictions[i]
            expected = entry.get("prediction")
            if self.classification:
                same = got == expected or str(got) == str(expected)
                probability = outputs.probabilities[i] if self.binary else None
                if same and probability is not None and entry.get("probability") is not None:
                    same = abs(probability - entry["probability"]) <= GOLDEN_TOLERANCE
            else:
                same = abs(got - float(expected)) <= GOLDEN_TOLERANCE * max(1.0, abs(float(expected)))
            if not same:
                answer = f"{got!r} ({outputs.probabilities[i]:.6f})" if self.binary else repr(got)
                recorded = f"{expected!r} ({entry.get('probability')})" if self.binary else repr(expected)
                raise IntegrityError(f"golden record {i}: the model answers {answer}, training recorded {recorded}")


def sample_value(feature: Feature, rng: random.Random) -> Any:
    if feature.nullable and rng.random() < 0.1:
        return None
    if feature.type == "category":
        return UNSEEN_SAMPLE if rng.random() < 0.05 else rng.choice(feature.values)
    if feature.type == "bool":
        return rng.random() < 0.5
    low = feature.min if feature.min is not None else -1000.0
    high = feature.max if feature.max is not None else 1000.0
    if feature.type == "int":
        return rng.randint(int(np.ceil(low)), int(np.floor(high)))
    return rng.uniform(low, high)


def sample_records(features: tuple[Feature, ...], count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Valid random records, with missing values and an unseen category now and then: the self-check's input."""
    rng = random.Random(seed)
    return [{f.name: sample_value(f, rng) for f in features} for _ in range(count)]
