"""Metrics of one model on weighted holdout rows, many weightings at once.

A weighting is a row of per-row counts: one bootstrap resample's draw counts, or all ones for the plain metric.
Every metric here is a ratio of weighted sums of per-row quantities (one matrix product for all of them) except
ROC AUC, a weighted Mann-Whitney statistic from running sums over the rows sorted by score once. The same code
gives the reported metrics and their bootstrap distributions, so the two cannot disagree; the tests check both
against scikit-learn. Multi-class models get scikit-learn's macro averages (over the classes present in the truth
or the predictions of each weighting, as scikit-learn's unique_labels) and one-vs-rest ROC AUC, averaged over
the classes present in the truth: scikit-learn refuses a holdout without every class, which would leave a gate on
AUC undecidable for good whenever a rare class misses the holdout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ml.evaluate import Outputs


def _ratio(num: np.ndarray, den: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """num / den, with `empty` where den is 0 (scikit-learn's zero_division=0 for precision and recall)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), empty)


def _mean_defined(aucs: np.ndarray) -> np.ndarray:
    """Per weighting, the mean of the one-vs-rest AUCs that are defined (the class is in its truth, and so is
    another); NaN when none is."""
    defined = ~np.isnan(aucs)
    return _ratio(np.where(defined, aucs, 0).sum(axis=1, keepdims=True), defined.sum(axis=1, keepdims=True),
                  empty=np.nan)


class WeightedAUC:
    """ROC AUC under any weighting of rows, ties counting half, in exact integer arithmetic.

    With the negatives sorted by score, P(k) is the weight of the first k of them; a positive with k_lo negatives
    strictly below its score and k_hi at or below it wins P(k_lo) + P(k_hi) half-pairs. So each weighting costs
    one running sum over the negatives and one gather at the positives, not a sort.
    """

    def __init__(self, score: np.ndarray, actual: np.ndarray) -> None:
        negatives, positives = np.flatnonzero(actual == 0), np.flatnonzero(actual == 1)
        self.negatives = negatives[np.argsort(score[negatives], kind="stable")]
        self.positives = positives[np.argsort(score[positives], kind="stable")]
        neg_scores, pos_scores = score[self.negatives], score[self.positives]
        self.low = np.searchsorted(neg_scores, pos_scores, side="left")
        high = np.searchsorted(neg_scores, pos_scores, side="right")
        self.high = None if np.array_equal(self.low, high) else high

    def __call__(self, counts: np.ndarray) -> np.ndarray:
        """counts: weightings × rows (non-negative integers). The AUC of each weighting (NaN: a class is absent)."""
        wide = np.int32 if counts.shape[1] * 255 < 2**31 else np.int64  # a count is at most 255 (uint8)
        prefix = np.zeros((counts.shape[0], len(self.negatives) + 1), dtype=wide)
        np.cumsum(np.take(counts, self.negatives, axis=1), axis=1, dtype=wide, out=prefix[:, 1:])
        pos = np.take(counts, self.positives, axis=1)
        wins = np.take(prefix, self.low, axis=1)
        if self.high is None:
            wins *= 2
        else:
            wins += np.take(prefix, self.high, axis=1)
        twice_wins = np.einsum("bi,bi->b", pos, wins, dtype=np.float64)  # exact: every product is < 2**53
        pairs = pos.sum(axis=1, dtype=np.float64) * prefix[:, -1]
        return _ratio(twice_wins / 2, pairs, empty=np.nan)


class WeightedScores:
    """All metrics of one model (classifier or regressor) under many weightings of its holdout rows."""

    def __init__(self, y: np.ndarray, outputs: Outputs, task: str) -> None:
        self.task = task
        if task == "regression":
            err = outputs.predictions - y
            yf = np.asarray(y, dtype=np.float64)
            self.columns = np.column_stack([np.ones(len(y)), yf, yf**2, err**2, np.abs(err)])
            self.aucs = ()
            return
        classes = np.asarray(outputs.classes)
        proba = outputs.probabilities
        actual = (np.asarray(y)[:, None] == classes[None, :]).astype(np.float64)  # one-hot truth, rows × classes
        eps = np.finfo(proba.dtype).eps
        p_true = np.clip((proba * actual).sum(axis=1), eps, 1 - eps)  # as sklearn's log_loss clips
        common = [np.ones(len(y)), (outputs.predictions == y).astype(np.float64), -np.log(p_true)]
        self.binary = len(classes) == 2
        if self.binary:  # the positive class (classes[-1]) only, as scikit-learn's binary metrics
            score, positive = proba[:, 1], actual[:, 1]
            predicted = (outputs.predictions == classes[-1]).astype(np.float64)
            self.columns = np.column_stack([*common, (score - positive) ** 2, positive, predicted,
                                            predicted * positive])
            self.aucs = (WeightedAUC(score, positive),)
        else:
            predicted = (np.asarray(outputs.predictions)[:, None] == classes[None, :]).astype(np.float64)
            self.columns = np.column_stack([*common, ((proba - actual) ** 2).sum(axis=1), actual, predicted,
                                            predicted * actual])
            self.aucs = tuple(WeightedAUC(proba[:, k], actual[:, k]) for k in range(len(classes)))

    def __call__(self, counts: np.ndarray, sums: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """counts: weightings × rows. sums: `counts @ self.columns` when the caller computed it already (one matrix
        product for several models)."""
        if sums is None:
            sums = counts.astype(np.float64) @ self.columns
        total = sums[:, 0]
        if self.task == "regression":
            y_sum, y_squares, squared, absolute = sums[:, 1:].T
            spread = y_squares - _ratio(y_sum**2, total)
            # A constant target: 1 for a perfect fit, else 0 (scikit-learn's force_finite).
            r2 = np.where(spread > 0, 1 - _ratio(squared, spread), np.where(squared == 0, 1.0, 0.0))
            return {"rmse": np.sqrt(_ratio(squared, total)), "mae": _ratio(absolute, total), "r2": r2}
        correct, log_loss, brier = sums[:, 1:4].T
        actual, predicted, true_pos = np.split(sums[:, 4:], 3, axis=1)  # weightings × (1 or one per class)
        precision, recall = _ratio(true_pos, predicted), _ratio(true_pos, actual)
        f1 = _ratio(2 * true_pos, predicted + actual)
        aucs = np.column_stack([auc(counts) for auc in self.aucs])
        if not self.binary:  # macro: the mean over the classes each weighting has in its truth or predictions
            present = (actual + predicted) > 0
            precision, recall, f1 = (_ratio((m * present).sum(axis=1, keepdims=True),
                                            present.sum(axis=1, keepdims=True)) for m in (precision, recall, f1))
            aucs = _mean_defined(aucs)
        return {
            "accuracy": _ratio(correct, total),
            "precision": precision[:, 0],
            "recall": recall[:, 0],
            "f1": f1[:, 0],
            "log_loss": _ratio(log_loss, total),
            "brier": _ratio(brier, total),
            "roc_auc": aucs[:, 0],
        }


def point_scores(y: np.ndarray, outputs: Outputs, task: str) -> dict[str, float]:
    """The plain (unweighted) metrics: every row counted once."""
    ones = np.ones((1, len(y)), dtype=np.uint8)
    return {name: float(values[0]) for name, values in WeightedScores(y, outputs, task)(ones).items()}
