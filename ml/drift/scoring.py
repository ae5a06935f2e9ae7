"""The model output the drift job compares: positive-class probability for a binary classifier, the predicted
label for other classifiers, the prediction itself for a regressor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ml.drift.profile import Scorer
from ml.drift.readers import Batch, bool_label
from ml.errors import DataError
from ml.params import Feature

if TYPE_CHECKING:
    import pandas as pd

    from ml.evaluate import Outputs


def model_scores(model: Any, frame: pd.DataFrame, task: str) -> np.ndarray:
    """The output drift jobs compare; at training time, the holdout's go into reference.json (`build_reference`)."""
    if task == "classification" and hasattr(model, "predict_proba") and len(getattr(model, "classes_", ())) == 2:
        return np.asarray(model.predict_proba(frame)[:, 1], dtype=np.float64)
    return np.asarray(model.predict(frame))


def output_scores(outputs: Outputs, task: str) -> np.ndarray:
    """`model_scores` from a prediction already made (the holdout's, at training time): no second pass."""
    if task == "classification" and outputs.probabilities is not None and outputs.probabilities.shape[1] == 2:
        return np.asarray(outputs.probabilities[:, 1], dtype=np.float64)
    return np.asarray(outputs.predictions)


def scores_kind(scores: np.ndarray, task: str) -> str:
    """Probabilities and regression outputs are compared as numbers; class labels as categories."""
    if task == "regression" or np.issubdtype(np.asarray(scores).dtype, np.floating):
        return "numeric"
    return "category"


def as_prediction(scores: np.ndarray, task: str) -> tuple[str, Any]:
    kind = scores_kind(scores, task)
    if kind == "numeric":
        return kind, np.asarray(scores, dtype=np.float64)
    return kind, pa.array([None if label is None else str(label) for label in scores.tolist()], type=pa.string())


def model_frame(columns: Mapping[str, Any], features: tuple[Feature, ...]) -> pd.DataFrame:
    """The frame the model was trained on, from normalised columns (arrow or numpy; booleans back to 0/1)."""
    import pandas as pd  # only when scoring: the drift job itself never needs pandas
    data = {}
    for feature in features:
        values = columns[feature.name]
        if feature.is_numeric:
            data[feature.name] = np.asarray(values, dtype=np.float64)
            continue
        labels = values.to_numpy(zero_copy_only=False) if isinstance(values, pa.Array | pa.ChunkedArray) else values
        labels = np.asarray(labels, dtype=object)
        if feature.type == "bool":
            words = np.array([None if label is None else bool_label(str(label)) for label in labels], dtype=object)
            data[feature.name] = np.where(words == "true", 1.0, np.where(words == "false", 0.0, np.nan))
        else:
            data[feature.name] = labels
    return pd.DataFrame(data)


def batch_scorer(model: Any, features: tuple[Feature, ...], task: str) -> Scorer:
    """Scores for a batch's rows. A row with an infinite number gets none (a missing score; a batch of such rows,
    no scores at all): the model cannot take it, the model server refuses it, and the profile counts the infinity
    as a missing value. Numbers near ±1e308 may overflow in the model's arithmetic (scikit-learn's own input check
    sums them): without numpy's warnings, as such a score (inf or NaN) counts as missing too."""
    numeric = [f.name for f in features if f.is_numeric]

    def score(batch: Batch) -> tuple[str, Any] | None:
        frame = model_frame(batch.columns, features)
        scorable = ~np.isinf(frame[numeric].to_numpy()).any(axis=1)
        if not scorable.any():
            return None
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                scores = model_scores(model, frame[scorable], task)
        except (ValueError, TypeError) as exc:
            raise DataError(f"the model cannot score this data: {exc}") from None
        if scorable.all():
            return as_prediction(scores, task)
        numeric_scores = scores_kind(scores, task) == "numeric"
        every = np.full(len(frame), np.nan) if numeric_scores else np.full(len(frame), None, dtype=object)
        every[scorable] = scores
        return as_prediction(every, task)

    return score
