"""Load the dataset named in params.yaml, validated, and cut into the model's inputs and target."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.data import model_frame, read_table, target_values
from ml.errors import DataError
from ml.fileio import sha256_file
from ml.params import Params
from ml.split import rows_fingerprint, split_rows
from ml.validation import validate_frame


@dataclass(frozen=True)
class Dataset:
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_holdout: pd.DataFrame
    y_holdout: np.ndarray
    data_sha256: str
    holdout_fingerprint: str
    labels: list | None  # a classifier's classes, as plain values (every one is in training); None for regression


def load_valid_frame(params: Params) -> pd.DataFrame:
    frame = read_table(params.data_path)
    result = validate_frame(frame, params)
    if not result.ok:
        raise DataError(f"{params.data_path}: {result.one_line()}")
    return frame


def dataset_from_frame(frame: pd.DataFrame, params: Params, data_sha256: str) -> Dataset:
    """Split an already validated frame into model inputs and targets."""
    train_rows, holdout_rows = split_rows(frame, params)
    train, holdout = frame.iloc[train_rows], frame.iloc[holdout_rows]
    y_train = target_values(train, params)
    return Dataset(
        X_train=model_frame(train, params),
        y_train=y_train,
        X_holdout=model_frame(holdout, params),
        y_holdout=target_values(holdout, params),
        data_sha256=data_sha256,
        holdout_fingerprint=rows_fingerprint(holdout_rows),
        labels=np.unique(y_train).tolist() if params.task == "classification" else None,
    )


def load_dataset(params: Params) -> Dataset:
    return dataset_from_frame(load_valid_frame(params), params, sha256_file(params.data_path))
