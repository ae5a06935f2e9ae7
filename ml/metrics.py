"""Metric definitions: one table says which metrics exist per task and which way is better."""

from __future__ import annotations

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
# The best value each metric can take: a champion there can never be beaten on that holdout.
BEST = {**{name: 1.0 if way == MAXIMIZE else 0.0 for name, way in CLASSIFICATION.items()},
        "rmse": 0.0, "mae": 0.0, "r2": 1.0}


def confusion(y_true, y_pred, classes) -> dict:
    from sklearn import metrics as skm
    matrix = skm.confusion_matrix(y_true, y_pred, labels=list(classes))
    return {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}
