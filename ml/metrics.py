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


def _binary(proba: np.ndarray) -> bool:
    return proba.ndim == 2 and proba.shape[1] == 2


def classification_scores(y_true, y_pred, proba: np.ndarray, classes) -> dict[str, float]:
    """Scalar classification metrics; binary metrics use the last class as the positive one."""
    from sklearn import metrics as skm  # lazily: params loading imports this module, and jobs like drift never score
    y_true = np.asarray(y_true)
    binary = _binary(proba)
    average = "binary" if binary else "macro"
    pos = {"pos_label": classes[-1]} if binary else {}
    labels = list(classes)
    scores = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "f1": skm.f1_score(y_true, y_pred, average=average, zero_division=0, **pos),
        "precision": skm.precision_score(y_true, y_pred, average=average, zero_division=0, **pos),
        "recall": skm.recall_score(y_true, y_pred, average=average, zero_division=0, **pos),
        "log_loss": skm.log_loss(y_true, proba, labels=labels),
    }
    if len(np.unique(y_true)) < 2:
        scores["roc_auc"] = float("nan")
    elif binary:
        scores["roc_auc"] = skm.roc_auc_score(y_true == classes[-1], proba[:, 1])
    else:
        scores["roc_auc"] = skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
    if binary:
        scores["brier"] = skm.brier_score_loss(y_true == classes[-1], proba[:, 1])
    else:
        onehot = (y_true[:, None] == np.asarray(labels)[None, :]).astype(float)
        scores["brier"] = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    return {name: float(value) for name, value in scores.items()}


def confusion(y_true, y_pred, classes) -> dict:
    from sklearn import metrics as skm
    matrix = skm.confusion_matrix(y_true, y_pred, labels=list(classes))
    return {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}
