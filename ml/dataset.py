"""Load the dataset named in params.yaml, validated, and cut into the model's inputs and target."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.data import model_frame, read_data, target_values
from ml.errors import DataError
from ml.fileio import sha256_file
from ml.params import Params
from ml.split import row_keys, rows_fingerprint, split_rows
from ml.validation import validate_frame


@dataclass(frozen=True)
class Dataset:
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_holdout: pd.DataFrame
    y_holdout: np.ndarray
    data_sha256: str
    holdout_fingerprint: str
    holdout_keys: np.ndarray  # ml.split.row_keys of the holdout rows: which of them another split held out
    labels: list | None  # a classifier's classes, as plain values (every one is in training); None for regression


def load_valid_frame(params: Params) -> pd.DataFrame:
    frame = read_data(params)
    result = validate_frame(frame, params)
    if not result.ok:
        raise DataError(f"{params.data_path}: {result.one_line()}")
    return frame


def dataset_from_frame(frame: pd.DataFrame, params: Params, data_sha256: str) -> Dataset:
    """Split an already validated frame into model inputs and targets."""
    features, target = model_frame(frame, params), target_values(frame, params)
    keys = row_keys(features, target)
    train_rows, holdout_rows = split_rows(keys, target, params)
    y_train = target[train_rows]
    return Dataset(
        X_train=features.iloc[train_rows],
        y_train=y_train,
        X_holdout=features.iloc[holdout_rows],
        y_holdout=target[holdout_rows],
        data_sha256=data_sha256,
        holdout_fingerprint=rows_fingerprint(holdout_rows),
        holdout_keys=keys[holdout_rows],
        labels=np.unique(y_train).tolist() if params.task == "classification" else None,
    )


def load_dataset(params: Params) -> Dataset:
    return dataset_from_frame(load_valid_frame(params), params, sha256_file(params.data_path))
