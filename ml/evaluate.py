"""Score a fitted model on the holdout: per-row outputs (for paired comparisons) and the metric table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.metrics import classification_scores, confusion, regression_scores
from ml.params import Params


@dataclass(frozen=True)
class Outputs:
    """What a model said about each holdout row: labels, and class probabilities for classifiers."""

    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: tuple | None


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
    if params.task == "classification":
        return classification_scores(y_true, outputs.predictions, outputs.probabilities, outputs.classes)
    return regression_scores(y_true, outputs.predictions)


def evaluation(y: np.ndarray, outputs: Outputs, params: Params) -> dict:
    """The metrics.json report from a prediction already made."""
    report = {"task": params.task, "rows": int(len(y)), "metrics": metric_table(y, outputs, params)}
    if params.task == "classification":
        report["confusion_matrix"] = confusion(y, outputs.predictions, outputs.classes)
    return report


def evaluate(model, X: pd.DataFrame, y: np.ndarray, params: Params) -> dict:
    return evaluation(y, predict(model, X, params), params)
