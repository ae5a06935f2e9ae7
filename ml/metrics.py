"""Metric definitions: one table says which metrics exist per task and which way is better."""

from __future__ import annotations

import numpy as np

MAXIMIZE, MINIMIZE = "maximize", "minimize"

CLASSIFICATION = {
    "accuracy": MAXIMIZE,
    "roc_auc": MAXIMIZE,
    "f1": MAXIMIZE,
    "precision": MAXIMIZE,
    "recall": MAXIMIZE,
    "log_loss": MINIMIZE,
    "brier": MINIMIZE,
}
REGRESSION = {"rmse": MINIMIZE, "mae": MINIMIZE, "r2": MAXIMIZE}
METRICS = {"classification": CLASSIFICATION, "regression": REGRESSION}


def multiclass_scores(y_true, y_pred, proba: np.ndarray, classes) -> dict[str, float]:
    """Scalar metrics of a multi-class model (macro averages, one-vs-rest AUC); binary classifiers and regressors
    are scored by `ml.weighted_metrics`."""
    from sklearn import metrics as skm  # lazily: params loading imports this module, and jobs like drift never score
    y_true = np.asarray(y_true)
    labels = list(classes)
    onehot = (y_true[:, None] == np.asarray(labels)[None, :]).astype(float)
    scores = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "f1": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "precision": skm.precision_score(y_true, y_pred, average="macro", zero_division=0),
        "recall": skm.recall_score(y_true, y_pred, average="macro", zero_division=0),
        "log_loss": skm.log_loss(y_true, proba, labels=labels),
        "roc_auc": (skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
                    if len(np.unique(y_true)) > 1 else float("nan")),
        "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
    }
    return {name: float(value) for name, value in scores.items()}


def confusion(y_true, y_pred, classes) -> dict:
    from sklearn import metrics as skm
    matrix = skm.confusion_matrix(y_true, y_pred, labels=list(classes))
    return {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}
