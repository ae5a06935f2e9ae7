"""The holdout split: disjoint, complete, stratified, reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.split import split_positions


@pytest.mark.parametrize("rows, shares, test_size", [
    (200_000, [0.68, 0.32], 0.2),
    (1_001, [0.5, 0.3, 0.15, 0.05], 0.25),
    (97, [0.9, 0.1], 0.1),
])
def test_a_stratified_split_keeps_every_class_share(rows: int, shares: list[float], test_size: float) -> None:
    rng = np.random.default_rng(rows)
    target = rng.choice(["churn", "stay", "pause", "gone"][:len(shares)], size=rows, p=shares)
    train, holdout = split_positions(target, rows, test_size, seed=4)
    assert len(holdout) == math.ceil(test_size * rows)
    assert np.array_equal(np.sort(np.concatenate([train, holdout])), np.arange(rows))  # disjoint and complete
    for label in np.unique(target):
        members = np.sum(target == label)
        assert abs(np.sum(target[holdout] == label) - members * len(holdout) / rows) < 1 + 1e-9, label
        assert np.sum(target[train] == label) >= 1
    assert not np.all(np.diff(holdout) > 0)  # shuffled, as scikit-learn returns them


def test_the_split_is_reproducible_and_moves_with_the_seed() -> None:
    target = np.random.default_rng(0).integers(0, 2, 5_000)
    first = split_positions(target, 5_000, 0.2, seed=42)
    again = split_positions(target, 5_000, 0.2, seed=42)
    other = split_positions(target, 5_000, 0.2, seed=43)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(np.sort(first[1]), np.sort(other[1]))


def test_an_unstratified_split_takes_a_uniform_share() -> None:
    train, holdout = split_positions(None, 1_000, 0.3, seed=1)
    assert len(holdout) == 300 and len(train) == 700
    assert np.array_equal(np.sort(np.concatenate([train, holdout])), np.arange(1_000))
    assert holdout.max() > 700 and holdout.min() < 300  # spread over the rows, not the first or last 300
