"""The deterministic train/holdout split: same data + same params.yaml → the same holdout rows, always.

The champion is re-scored on exactly this holdout, so both models are judged on identical rows.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ml.errors import DataError
from ml.params import Params


def split_frame(frame: pd.DataFrame, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    stratify = None
    if params.task == "classification":
        counts = frame[params.target].value_counts()
        if len(counts) < 2:
            raise DataError(f"target '{params.target}' has a single class ({counts.index[0]!r}); nothing to learn")
        if counts.min() >= 2:
            stratify = frame[params.target].to_numpy()
    # Split positions, then take rows once: the same rows as splitting the frame itself, a third of the time.
    train, holdout = train_test_split(np.arange(len(frame)), test_size=params.test_size, random_state=params.seed,
                                      stratify=stratify)
    return frame.iloc[train], frame.iloc[holdout]


def rows_fingerprint(frame: pd.DataFrame) -> str:
    """A short hash of which rows (by index) are in a frame: proves two reports used the same holdout."""
    return hashlib.sha256(np.ascontiguousarray(frame.index.to_numpy(dtype=np.int64)).tobytes()).hexdigest()[:16]
