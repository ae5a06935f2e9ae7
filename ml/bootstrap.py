"""Paired bootstrap of metric deltas: both models are scored on the same resampled rows each time.

A block of resamples is held as a counts matrix (how often each holdout row was drawn), so every metric is a few
matrix-vector products over per-row quantities, and ROC AUC is a weighted Mann-Whitney statistic over the
negatives' scores sorted once: 1,000 resamples of a 40k-row holdout take ~0.6 s instead of ~11 s of
per-resample sorting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ml.evaluate import Outputs
from ml.metrics import classification_scores, regression_scores

BLOCK = 100  # resamples per block: bounds memory at BLOCK × rows

SampleFn = Callable[[np.ndarray], np.ndarray]  # (counts, shape b×n) -> metric value per resample


def resample_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """Turn a block of drawn row indices (b×n) into draw counts per row (b×n, int32).

    One bincount per resample: its n counters stay in cache, where one bincount over the whole block would
    scatter across b×n of them (twice as slow).
    """
    counts = np.empty((idx.shape[0], n), dtype=np.int32)
    for row, drawn in zip(counts, idx, strict=True):
        row[:] = np.bincount(drawn, minlength=n)
    return counts


def _once_per_block(compute: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
    """compute(counts), evaluated once per block however many metrics of the block ask for it."""
    last: list = [None, None]

    def cached(counts: np.ndarray) -> Any:
        if last[0] is not counts:  # identity, not id(): holding the block keeps its id from being reused
            last[:] = counts, compute(counts)
        return last[1]

    return cached


def _row_sums(*columns: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Resampled sums of per-row quantities: one matrix product per block (one pass over the counts) for all."""
    stacked = np.column_stack(columns)
    return _once_per_block(lambda counts: counts.astype(float) @ stacked)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def _weighted_auc(score: np.ndarray, actual: np.ndarray) -> SampleFn:
    """ROC AUC of each resample: for every positive row, the drawn negatives scored below it (ties count half).

    Integer arithmetic throughout: exact, and int32 halves the memory traffic of floats. A positive row drawn c
    times with at most n − c negatives below it adds 2·c·(n − c) ≤ n²/2 to twice_wins, so int32 holds up to 65,535
    rows; larger holdouts count in int64.
    """
    wide = np.int32 if len(score) <= 65_535 else np.int64
    pos_rows = np.flatnonzero(actual == 1)
    neg_rows = np.flatnonzero(actual == 0)
    neg_order = neg_rows[np.argsort(score[neg_rows], kind="stable")]
    neg_scores = score[neg_order]
    below = np.searchsorted(neg_scores, score[pos_rows], side="left")
    not_above = np.searchsorted(neg_scores, score[pos_rows], side="right")

    def auc(counts: np.ndarray) -> np.ndarray:
        running = np.zeros((counts.shape[0], len(neg_order) + 1), dtype=wide)
        np.cumsum(np.take(counts, neg_order, axis=1), axis=1, out=running[:, 1:])  # drawn negatives up to a score
        pos = np.take(counts, pos_rows, axis=1).astype(wide, copy=False)
        twice_wins = np.take(running, below, axis=1)
        twice_wins += np.take(running, not_above, axis=1)
        twice_wins *= pos
        wins = twice_wins.sum(axis=1, dtype=np.int64) / 2
        return _safe_ratio(wins, pos.sum(axis=1, dtype=np.int64) * running[:, -1].astype(np.int64))

    return auc


def _binary_fns(y: np.ndarray, out: Outputs) -> dict[str, SampleFn]:
    n = len(y)
    positive = out.classes[-1]
    actual = (y == positive).astype(float)
    predicted = (out.predictions == positive).astype(float)
    score = out.probabilities[:, 1]
    p_true = np.where(actual == 1, score, 1 - score)
    row_log_loss = -np.log(np.clip(p_true, np.finfo(float).eps, 1))
    row_brier = (score - actual) ** 2
    correct = (out.predictions == y).astype(float)
    true_pos = predicted * actual
    sums = _row_sums(correct, true_pos, predicted, actual, row_log_loss, row_brier)
    return {
        "accuracy": lambda c: sums(c)[:, 0] / n,
        "precision": lambda c: _safe_ratio(sums(c)[:, 1], sums(c)[:, 2]),
        "recall": lambda c: _safe_ratio(sums(c)[:, 1], sums(c)[:, 3]),
        "f1": lambda c: _safe_ratio(2 * sums(c)[:, 1], sums(c)[:, 2] + sums(c)[:, 3]),
        "log_loss": lambda c: sums(c)[:, 4] / n,
        "brier": lambda c: sums(c)[:, 5] / n,
        "roc_auc": _weighted_auc(score, actual),
    }


def _regression_fns(y: np.ndarray, out: Outputs) -> dict[str, SampleFn]:
    n = len(y)
    err = out.predictions - y
    sums = _row_sums(err**2, np.abs(err), y, y**2)

    def r2(c: np.ndarray) -> np.ndarray:
        total = sums(c)[:, 3] - sums(c)[:, 2] ** 2 / n
        return 1 - _safe_ratio(sums(c)[:, 0], total)

    return {
        "rmse": lambda c: np.sqrt(sums(c)[:, 0] / n),
        "mae": lambda c: sums(c)[:, 1] / n,
        "r2": r2,
    }


def _generic_fns(y: np.ndarray, out: Outputs, task: str, names: list[str]) -> dict[str, SampleFn]:
    """Fallback (multiclass): rebuild each resample's rows and score it with the regular metric functions."""

    rows_of = np.arange(len(y))

    def scores(rows: np.ndarray) -> dict[str, float]:
        if task == "regression":
            return regression_scores(y[rows], out.predictions[rows])
        return classification_scores(y[rows], out.predictions[rows], out.probabilities[rows], out.classes)

    block_scores = _once_per_block(lambda counts: [scores(np.repeat(rows_of, row.astype(int))) for row in counts])

    def fn_for(name: str) -> SampleFn:
        return lambda c: np.array([resample[name] for resample in block_scores(c)])

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
    """Bootstrap distribution of (challenger − champion) for each metric, on shared resamples.

    Resample k of block j draws `rng.integers(0, n, size=(BLOCK, n))[k]` with `rng = default_rng(seed)`.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    champ_fns = metric_functions(y, champion, task, names)
    chall_fns = metric_functions(y, challenger, task, names)
    samples: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, resamples, BLOCK):
        counts = resample_counts(rng.integers(0, n, size=(min(BLOCK, resamples - start), n)), n)
        for name in names:
            samples[name].append(chall_fns[name](counts) - champ_fns[name](counts))
    return {name: np.concatenate(parts) for name, parts in samples.items()}
