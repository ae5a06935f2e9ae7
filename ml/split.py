"""The train/holdout split, decided row by row from each row's content: a row's side never depends on the others.

A row is held out when a seeded hash of its feature and target values falls below `split.test_size`. So the same
data + params.yaml give the same holdout, and rows appended later (a retrain on fresh data) or a re-sorted file
leave every existing row on its side: the champion, trained on yesterday's rows with the same split settings, is
re-scored only on rows it never trained on. Identical rows share a side, so a duplicate never leaks into the
holdout. Classification is stratified in expectation (each class's rows are held out at the same rate); every
class keeps a training row and the holdout keeps at least one, which only tiny datasets ever need.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ml.errors import DataError
from ml.params import Params

METHOD = "row-hash"  # recorded in the model metadata: how its training rows were chosen

_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mixer (splitmix64's finaliser): each seed gives an unrelated order of the rows."""
    with np.errstate(over="ignore"):
        z = values + _MIX[0]
        z = (z ^ (z >> np.uint64(30))) * _MIX[1]
        z = (z ^ (z >> np.uint64(27))) * _MIX[2]
    return z ^ (z >> np.uint64(31))


def row_keys(features: pd.DataFrame, target: np.ndarray) -> np.ndarray:
    """One uint64 per row from its values as the model sees them (floats and strings), not as the file typed them:
    an int column that gains a missing value (and is read as float) keeps every row's key, and so does listing the
    features in another order."""
    canonical = features[sorted(features.columns)].reset_index(drop=True).assign(
        __target__=pd.Series(target).map(str) if target.dtype.kind not in "fc" else target.astype(float))
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy()


def holdout_draws(keys: np.ndarray, seed: int) -> np.ndarray:
    """A uniform draw in [0, 1) per row, fixed by its key and the seed."""
    mixed = _splitmix64(keys ^ _splitmix64(np.full(1, seed, dtype=np.uint64)))
    return (mixed >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _keep_a_row_of_each_side(held: np.ndarray, draws: np.ndarray, target: np.ndarray | None) -> None:
    """Tiny data only: give each class all of whose rows were drawn into the holdout back its highest-drawn row,
    then, when the holdout is empty, hold out the lowest-drawn row of a class with a training row to spare."""
    groups = np.zeros(len(held), dtype=np.int64) if target is None else np.unique(target, return_inverse=True)[1]
    members_of = [np.flatnonzero(groups == group) for group in np.unique(groups)]
    for members in members_of:
        if held[members].all():
            held[members[np.argmax(draws[members])]] = False
    if not held.any():
        spare = [members[~held[members]] for members in members_of]
        candidates = np.concatenate([rows for rows in spare if len(rows) > 1] or [np.array([], dtype=np.int64)])
        if len(candidates):
            held[candidates[np.argmin(draws[candidates])]] = True


def split_positions(keys: np.ndarray, target: np.ndarray | None, test_size: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training positions, holdout positions), each in a seeded order: that of the rows' draws."""
    draws = holdout_draws(keys, seed)
    held = draws < test_size
    _keep_a_row_of_each_side(held, draws, target)
    order = np.argsort(draws, kind="stable")
    return order[~held[order]], order[held[order]]


def split_rows(keys: np.ndarray, target: np.ndarray, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """(training positions, holdout positions) of the rows with these row_keys; a DataError when training could
    not learn."""
    stratify = target if params.task == "classification" else None
    train, holdout = split_positions(keys, stratify, params.test_size, params.seed)
    if not len(train) or not len(holdout):
        raise DataError(f"too few rows to split: {len(train)} for training and {len(holdout)} for the holdout")
    if stratify is not None:
        labels = pd.unique(target[train]).tolist()
        if len(labels) < 2:
            raise DataError(f"target '{params.target}' has a single class ({labels[0]!r}); nothing to learn")
    return train, holdout


def held_out_by(metadata: dict, keys: np.ndarray) -> np.ndarray | None:
    """Which of these rows the model with this metadata held out too (it cannot have trained on them), or None when
    its rows were chosen another way (a bundle from before the row-hash split) and nobody can tell."""
    split = (metadata.get("params") or {}).get("split") or {}
    if metadata.get("split_method") != METHOD or not {"test_size", "seed"} <= split.keys():
        return None
    return holdout_draws(keys, int(split["seed"])) < float(split["test_size"])


def rows_fingerprint(positions: np.ndarray) -> str:
    """A short hash of which rows (by position in the data file) a split holds: proves two reports used the same
    holdout. Positions, not the frame's index: a parquet file may bring any index, strings or duplicates."""
    return hashlib.sha256(np.ascontiguousarray(positions, dtype=np.int64).tobytes()).hexdigest()[:16]
