"""The holdout split: disjoint, complete, stratified, reproducible; every class trained on; rows named by position."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ml.dataset import load_dataset
from ml.errors import DataError
from ml.params import Params, parse_params
from ml.split import split_positions, split_rows
from tests.conftest import Workspace, base_params
from tests.core.conftest import params_of


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


@pytest.mark.parametrize("sizes, held_out", [
    ({"a": 6, "b": 4}, {"a": 2, "b": 1}),  # shares 1.8 and 1.2: the spare row goes to a (remainder 0.8)
    ({"a": 5, "b": 3, "c": 2}, {"a": 1, "b": 1, "c": 1}),  # 1.5, 0.9, 0.6: two spare rows, to b then c
])
def test_rows_left_after_the_proportional_shares_go_to_the_largest_remainders(sizes, held_out) -> None:
    target = np.repeat(list(sizes), list(sizes.values()))
    _, holdout = split_positions(target, len(target), 0.25, seed=0)  # ceil(0.25 × 10) = 3 rows
    labels, counts = np.unique(target[holdout], return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist(), strict=True)) == held_out


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


def test_a_class_of_one_row_stays_in_training_and_the_holdout_keeps_its_size() -> None:
    """Holding a singleton out would train a model that never saw its label; its holdout row goes to a larger class."""
    target = np.array(["a", "b", "c", "d", "e", *["z"] * 100])
    train, holdout = split_positions(target, len(target), 0.2, seed=0)
    assert set(target[train]) == set(target)
    assert len(holdout) == math.ceil(0.2 * len(target)) and set(target[holdout]) == {"z"}


def tiny_frame(target: list) -> pd.DataFrame:
    return pd.DataFrame({"churned": target, "x": range(len(target))})


def classification_params(tmp_path) -> Params:
    return parse_params(base_params(), tmp_path)


def test_a_tiny_dataset_trains_on_every_class_and_may_hold_out_only_one(tmp_path) -> None:
    train, holdout = split_rows(tiny_frame([0, 0, 0, 0, 1]), classification_params(tmp_path))
    assert sorted(np.array([0, 0, 0, 0, 1])[train]) == [0, 0, 0, 1] and len(holdout) == 1


@pytest.mark.parametrize("target, says", [
    ([0] * 10, "target 'churned' has a single class (0); nothing to learn"),  # not np.int64(0)
    (["yes"] * 10, "target 'churned' has a single class ('yes'); nothing to learn"),
    ([0, 1], "too few rows to split: 2 for training and 0 for the holdout"),  # both classes stay in training
])
def test_a_split_that_leaves_nothing_to_learn_or_judge_is_one_data_error(tmp_path, target, says) -> None:
    with pytest.raises(DataError) as error:
        split_rows(tiny_frame(target), classification_params(tmp_path))
    assert str(error.value) == says


def test_the_holdout_fingerprint_is_by_position_whatever_index_a_parquet_file_brings(workspace: Workspace) -> None:
    """A parquet file keeps its index: strings, or duplicates. The holdout is the same rows of the same file."""
    as_csv = load_dataset(params_of(workspace))
    frame = pd.read_csv(workspace.data)
    frame.index = [f"cust-{i // 2}" for i in range(len(frame))]  # strings, each twice
    frame.to_parquet(workspace.root / "data" / "churn.parquet")
    workspace.edit_params(lambda raw: raw["data"].update(path="data/churn.parquet"))

    as_parquet = load_dataset(params_of(workspace))

    assert as_parquet.holdout_fingerprint == as_csv.holdout_fingerprint
    assert np.array_equal(as_parquet.y_holdout, as_csv.y_holdout)


def test_a_tiny_dataset_with_a_one_row_class_is_trained_on_both_and_evaluated(workspace: Workspace) -> None:
    """The holdout lacks the singleton's class: metrics that need it are undefined (null), nothing crashes."""
    from ml.bundle import read_metadata
    from ml.steps import evaluate_step, validate_step
    from tests.core.conftest import train_in_process

    frame = pd.read_csv(workspace.data)
    pd.concat([frame[frame.churned == 0].head(4), frame[frame.churned == 1].head(1)]).to_csv(workspace.data,
                                                                                             index=False)
    params = params_of(workspace)
    validate_step(params, workspace.reports)
    train_in_process(workspace)
    evaluate_step(params, workspace.model, workspace.reports / "metrics.json")

    assert read_metadata(workspace.model)["classes"] == [0, 1]
    metrics = json.loads((workspace.reports / "metrics.json").read_text())
    assert metrics["rows"] == 1 and metrics["metrics"]["roc_auc"] is None
    assert metrics["confusion_matrix"] == {"labels": ["0", "1"], "matrix": [[1, 0], [0, 0]]}
