"""Paired bootstrap of metric deltas: both models are scored on the same resampled rows each time.

Metrics are computed for a whole block of resamples at once from per-row quantities (vectorised), so 1,000
resamples of a 40k-row holdout take well under a second for the binary and regression metrics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

from ml.evaluate import Outputs
from ml.metrics import classification_scores, regression_scores

BLOCK = 100  # resamples per vectorised block: bounds memory at BLOCK × rows

SampleFn = Callable[[np.ndarray], np.ndarray]  # (block of row indices, shape b×n) -> metric per resample


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def _binary_fns(y: np.ndarray, out: Outputs) -> dict[str, SampleFn]:
    positive = out.classes[-1]
    actual = y == positive
    predicted = out.predictions == positive
    score = out.probabilities[:, 1]
    p_true = np.where(actual, score, 1 - score)
    eps = np.finfo(float).eps
    row_log_loss = -np.log(np.clip(p_true, eps, 1))
    row_brier = (score - actual) ** 2
    correct = out.predictions == y
    true_pos = predicted & actual

    def auc(idx: np.ndarray) -> np.ndarray:
        pos = actual[idx]
        ranks = rankdata(score[idx], axis=1)
        n_pos = pos.sum(axis=1)
        n_neg = idx.shape[1] - n_pos
        rank_sum = np.where(pos, ranks, 0).sum(axis=1)
        return _safe_ratio(rank_sum - n_pos * (n_pos + 1) / 2, n_pos * n_neg)

    return {
        "accuracy": lambda idx: correct[idx].mean(axis=1),
        "precision": lambda idx: _safe_ratio(true_pos[idx].sum(1), predicted[idx].sum(1)),
        "recall": lambda idx: _safe_ratio(true_pos[idx].sum(1), actual[idx].sum(1)),
        "f1": lambda idx: _safe_ratio(2 * true_pos[idx].sum(1), predicted[idx].sum(1) + actual[idx].sum(1)),
        "log_loss": lambda idx: row_log_loss[idx].mean(axis=1),
        "brier": lambda idx: row_brier[idx].mean(axis=1),
        "roc_auc": auc,
    }


def _regression_fns(y: np.ndarray, out: Outputs) -> dict[str, SampleFn]:
    err = out.predictions - y

    def r2(idx: np.ndarray) -> np.ndarray:
        ys = y[idx]
        total = ((ys - ys.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        return 1 - _safe_ratio((err[idx] ** 2).sum(axis=1), total)

    return {
        "rmse": lambda idx: np.sqrt((err[idx] ** 2).mean(axis=1)),
        "mae": lambda idx: np.abs(err[idx]).mean(axis=1),
        "r2": r2,
    }


def _generic_fns(y: np.ndarray, out: Outputs, task: str, names: list[str]) -> dict[str, SampleFn]:
    """Fallback (multiclass): score each resample with the regular metric functions."""

    def scores(row_idx: np.ndarray) -> dict[str, float]:
        if task == "regression":
            return regression_scores(y[row_idx], out.predictions[row_idx])
        return classification_scores(y[row_idx], out.predictions[row_idx], out.probabilities[row_idx], out.classes)

    def fn_for(name: str) -> SampleFn:
        return lambda idx: np.array([scores(row_idx)[name] for row_idx in idx])

    return {name: fn_for(name) for name in names}


def metric_functions(y: np.ndarray, out: Outputs, task: str, names: list[str]) -> dict[str, SampleFn]:
    if task == "regression":
        fns = _regression_fns(y, out)
    elif out.probabilities is not None and out.probabilities.shape[1] == 2:
        fns = _binary_fns(y, out)
    else:
        fns = {}
    missing = [name for name in names if name not in fns]
    fns.update(_generic_fns(y, out, task, missing))
    return {name: fns[name] for name in names}


def paired_delta_samples(y: np.ndarray, champion: Outputs, challenger: Outputs, task: str, names: list[str],
                         resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Bootstrap distribution of (challenger − champion) for each metric, on shared resamples."""
    rng = np.random.default_rng(seed)
    champ_fns = metric_functions(y, champion, task, names)
    chall_fns = metric_functions(y, challenger, task, names)
    samples: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, resamples, BLOCK):
        idx = rng.integers(0, len(y), size=(min(BLOCK, resamples - start), len(y)))
        for name in names:
            samples[name].append(chall_fns[name](idx) - champ_fns[name](idx))
    return {name: np.concatenate(parts) for name, parts in samples.items()}
