"""The holdout split: disjoint, complete, stratified, reproducible, stable as rows are added; every class trained on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml.dataset import load_dataset
from ml.errors import DataError
from ml.params import Params, parse_params
from ml.split import METHOD, held_out_by, row_keys, split_positions, split_rows
from tests.conftest import Workspace, base_params
from tests.core.conftest import params_of


def keys_of(rows: int, seed: int = 0) -> np.ndarray:
    """Row keys of `rows` distinct rows."""
    frame = pd.DataFrame({"x": np.random.default_rng(seed).normal(size=rows)})
    return row_keys(frame, np.zeros(rows, dtype=int))


@pytest.mark.parametrize("rows, shares, test_size", [
    (200_000, [0.68, 0.32], 0.2),
    (1_001, [0.5, 0.3, 0.15, 0.05], 0.25),
    (97, [0.9, 0.1], 0.1),
])
def test_every_class_is_held_out_at_the_test_size_rate(rows: int, shares: list[float], test_size: float) -> None:
    rng = np.random.default_rng(rows)
    target = rng.choice(["churn", "stay", "pause", "gone"][:len(shares)], size=rows, p=shares)
    train, holdout = split_positions(keys_of(rows), target, test_size, seed=4)
    assert np.array_equal(np.sort(np.concatenate([train, holdout])), np.arange(rows))  # disjoint and complete
    for label in np.unique(target):
        members = np.sum(target == label)
        expected, sigma = members * test_size, (members * test_size * (1 - test_size)) ** 0.5
        assert abs(np.sum(target[holdout] == label) - expected) < 4 * sigma + 1, label
        assert np.sum(target[train] == label) >= 1
    assert not np.all(np.diff(holdout) > 0)  # shuffled, as scikit-learn returns them


def churn_rows(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame({"tenure": rng.integers(0, 72, rows).astype(float),
                             "plan": rng.choice(["basic", "pro", None], rows).astype(object)})
    return features, rng.integers(0, 2, rows)


def held_rows(features: pd.DataFrame, target: np.ndarray, seed: int = 7) -> set[tuple]:
    """The held-out rows, by content."""
    _, holdout = split_positions(row_keys(features, target), target, 0.2, seed)
    return set(zip(features["tenure"].iloc[holdout], features["plan"].iloc[holdout].fillna("<NA>"),
                   target[holdout], strict=True))


def test_rows_added_or_reordered_later_leave_every_existing_row_on_its_side() -> None:
    """What keeps the gate fair after a retrain on fresh data: the champion held out every row we hold out today
    that it had seen, so it is never re-scored on a row it trained on."""
    old_features, old_target = churn_rows(3_000, seed=1)
    new_features, new_target = churn_rows(1_000, seed=2)
    appended = pd.concat([old_features, new_features], ignore_index=True)
    target = np.concatenate([old_target, new_target])
    shuffled = np.random.default_rng(3).permutation(len(appended))

    before = held_rows(old_features, old_target)
    after = held_rows(appended, target)
    old_contents = set(zip(old_features["tenure"], old_features["plan"].fillna("<NA>"), old_target, strict=True))

    assert after & old_contents == before
    assert held_rows(appended.iloc[shuffled].reset_index(drop=True), target[shuffled]) == after


def test_identical_rows_share_a_side() -> None:
    """A duplicated row is never trained on and then scored."""
    features, target = churn_rows(500, seed=4)  # 72 tenures × 3 plans × 2 labels: many repeats
    train, holdout = split_positions(row_keys(features, target), target, 0.3, seed=0)
    key = list(zip(features["tenure"], features["plan"].fillna("<NA>"), target, strict=True))
    assert not {key[i] for i in train} & {key[i] for i in holdout}


def test_a_row_is_keyed_by_its_values_not_the_dtype_the_file_gave_them() -> None:
    """An int column read as float (it gained a missing value) or a category read as numbers keeps every key."""
    as_ints = pd.DataFrame({"x": [1, 2, 3]}).astype(float)
    as_floats = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    assert np.array_equal(row_keys(as_ints, np.array([0, 1, 0])), row_keys(as_floats, np.array([0, 1, 0])))
    assert np.array_equal(row_keys(as_floats, np.array([0, 1, 0])), row_keys(as_floats, np.array(["0", "1", "0"])))
    assert len(set(row_keys(as_floats, np.array([0, 0, 0])))) == 3
    two = pd.DataFrame({"x": [1.0, 2.0], "plan": ["a", "b"]})
    assert np.array_equal(row_keys(two, np.array([0, 1])), row_keys(two[["plan", "x"]], np.array([0, 1])))


def test_the_split_is_reproducible_and_moves_with_the_seed() -> None:
    target = np.random.default_rng(0).integers(0, 2, 5_000)
    keys = keys_of(5_000)
    first = split_positions(keys, target, 0.2, seed=42)
    again = split_positions(keys, target, 0.2, seed=42)
    other = split_positions(keys, target, 0.2, seed=43)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    shared = len(np.intersect1d(first[1], other[1]))
    assert abs(shared - 0.2 * len(first[1])) < 60  # an unrelated holdout: about a fifth of it in common


def test_an_unstratified_split_takes_a_uniform_share() -> None:
    train, holdout = split_positions(keys_of(1_000), None, 0.3, seed=1)
    assert abs(len(holdout) - 300) < 4 * (1_000 * 0.3 * 0.7) ** 0.5
    assert np.array_equal(np.sort(np.concatenate([train, holdout])), np.arange(1_000))
    assert holdout.max() > 700 and holdout.min() < 300  # spread over the rows, not the first or last 300


def test_a_class_of_one_row_stays_in_training() -> None:
    """Holding a singleton out would train a model that never saw its label."""
    target = np.array(["a", "b", "c", "d", "e", *["z"] * 100])
    for seed in range(20):
        train, holdout = split_positions(keys_of(len(target)), target, 0.5, seed=seed)
        assert set(target[train]) == set(target) and set(target[holdout]) == {"z"}


def test_a_model_split_with_other_settings_is_known_to_have_trained_on_some_holdout_rows() -> None:
    keys = keys_of(2_000)
    ours = split_positions(keys, None, 0.2, seed=1)[1]
    theirs = {"split_method": METHOD, "params": {"split": {"test_size": 0.2, "seed": 2}}}
    same = {"split_method": METHOD, "params": {"split": {"test_size": 0.2, "seed": 1}}}
    held_by_them = held_out_by(theirs, keys[ours])
    assert held_by_them.mean() == pytest.approx(0.2, abs=0.06)
    assert np.array_equal(np.flatnonzero(held_by_them),
                          np.flatnonzero(np.isin(ours, split_positions(keys, None, 0.2, seed=2)[1])))
    assert held_out_by(same, keys[ours]).all()
    assert held_out_by({"params": same["params"]}, keys[ours]) is None  # chosen before the row-hash split


def tiny_frame(target: list) -> pd.DataFrame:
    return pd.DataFrame({"churned": target, "x": range(len(target))})


def classification_params(tmp_path) -> Params:
    return parse_params(base_params(), tmp_path)


def split_tiny(target: list, tmp_path) -> tuple[np.ndarray, np.ndarray]:
    frame = tiny_frame(target)
    return split_rows(row_keys(frame, np.asarray(target)), np.asarray(target), classification_params(tmp_path))


@pytest.mark.parametrize("seed", range(10))
def test_a_tiny_dataset_trains_on_every_class_and_holds_out_a_row(tmp_path, seed) -> None:
    target = np.array([0, 0, 0, 0, 1])
    with_seed = base_params()
    with_seed["split"]["seed"] = seed
    train, holdout = split_rows(row_keys(tiny_frame(list(target)), target), target, parse_params(with_seed, tmp_path))
    assert set(target[train]) == {0, 1} and len(holdout) >= 1


@pytest.mark.parametrize("target, says", [
    ([0] * 10, "target 'churned' has a single class (0); nothing to learn"),  # not np.int64(0)
    (["yes"] * 10, "target 'churned' has a single class ('yes'); nothing to learn"),
    ([0, 1], "too few rows to split: 2 for training and 0 for the holdout"),  # both classes stay in training
])
def test_a_split_that_leaves_nothing_to_learn_or_judge_is_one_data_error(tmp_path, target, says) -> None:
    with pytest.raises(DataError) as error:
        split_tiny(target, tmp_path)
    assert str(error.value) == says


@pytest.mark.parametrize("name", ["churn.parquet", "churn.PQ"])  # parquet by its suffix, in any case
def test_the_holdout_fingerprint_is_by_position_whatever_index_a_parquet_file_brings(workspace: Workspace,
                                                                                    name: str) -> None:
    """A parquet file keeps its index: strings, or duplicates. The holdout is the same rows of the same file."""
    as_csv = load_dataset(params_of(workspace))
    frame = pd.read_csv(workspace.data)
    frame.index = [f"cust-{i // 2}" for i in range(len(frame))]  # strings, each twice
    frame.to_parquet(workspace.root / "data" / name)
    workspace.edit_params(lambda raw: raw["data"].update(path=f"data/{name}"))

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
    held_out = len(load_dataset(params).y_holdout)
    assert 1 <= held_out <= 4 and metrics["rows"] == held_out and metrics["metrics"]["roc_auc"] is None
    matrix = metrics["confusion_matrix"]
    assert matrix["labels"] == ["0", "1"] and sum(matrix["matrix"][0]) == held_out and matrix["matrix"][1] == [0, 0]
