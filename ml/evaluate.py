"""Score a fitted model on the holdout: per-row outputs (for paired comparisons) and the metric table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ml.bundle import load_bundle, read_metadata
from ml.compatibility import schema_mismatch, stale_reasons
from ml.errors import MLOpsError, StaleModelError
from ml.metrics import METRICS, confusion
from ml.params import Params
from ml.weighted_metrics import point_scores

if TYPE_CHECKING:
    from ml.dataset import Dataset


@dataclass(frozen=True)
class Outputs:
    """What a model said about each holdout row: labels, and class probabilities for classifiers."""

    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: tuple | None

    def rows(self, mask: np.ndarray) -> Outputs:
        """The outputs of the rows where mask is True."""
        probabilities = None if self.probabilities is None else self.probabilities[mask]
        return Outputs(self.predictions[mask], probabilities, self.classes)


def predict(model, X: pd.DataFrame, params: Params) -> Outputs:
    if params.task == "classification":
        proba = model.predict_proba(X)
        classes = tuple(model.classes_)
        # One call, labels derived from the probabilities: the same answer predict() gives, half the work.
        labels = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
        labels = labels.astype(np.asarray(classes).dtype)
        return Outputs(labels, proba, classes)
    return Outputs(np.asarray(model.predict(X), dtype=float), None, None)


def metric_table(y_true: np.ndarray, outputs: Outputs, params: Params) -> dict[str, float]:
    scores = point_scores(np.asarray(y_true), outputs, params.task)  # numpy, checked against sklearn in the tests
    return {name: scores[name] for name in METRICS[params.task]}


def evaluation(y: np.ndarray, outputs: Outputs, params: Params) -> dict:
    """The metrics.json report from a prediction already made."""
    report = {"task": params.task, "rows": int(len(y)), "metrics": metric_table(y, outputs, params)}
    if params.task == "classification":
        report["confusion_matrix"] = confusion(y, outputs.predictions, outputs.classes)
    return report


def holdout_outputs(model_dir: Path, dataset: Dataset, params: Params,
                    known: Outputs | None = None) -> tuple[dict[str, Any], Outputs]:
    """A bundle's metadata and its outputs on the holdout: `known` when the caller has just made them
    (run_pipeline), otherwise the bundle is loaded (sha256-verified), checked against params.yaml like the
    champion, and against what fitted it (a model trained before params.yaml or the data changed is retrained, not
    scored: its report would describe another model under today's params) and scored. Only the challenger comes
    here; the champion (ml.compare) was trained on older data by design."""
    if known is not None:
        return read_metadata(model_dir), known
    model, metadata = load_bundle(model_dir)
    mismatch = schema_mismatch(metadata, params, dataset.labels, role="model")
    if mismatch is not None:
        raise MLOpsError(f"{model_dir}: {mismatch}; retrain it (scripts/train.py)")
    stale = stale_reasons(metadata, params, dataset.data_sha256, dataset.holdout_fingerprint)
    if stale is not None:
        raise StaleModelError(f"{model_dir}: the model was trained {stale}; retrain it (scripts/train.py)")
    return metadata, predict(model, dataset.X_holdout, params)
