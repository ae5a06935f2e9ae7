"""Reference statistics fitted at training time and stored in the model bundle as reference.json.

They hold what every drift test needs (a bounded uniform sample per numeric column, category counts, null
counts, the model's scores on the holdout), so the scheduled drift job never needs the training data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml.drift.config import drift_config
from ml.drift.profile import DataProfile, ProfileBuilder
from ml.drift.readers import Batch, frame_batch
from ml.drift.scoring import as_prediction
from ml.drift.summary import summary_from_json
from ml.errors import DataError
from ml.params import Feature, Params

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "mlops-drift-reference"
FILENAME = "reference.json"


def build_reference(frame: pd.DataFrame, scores: np.ndarray | None, params: Params) -> dict[str, Any]:
    """JSON-serialisable reference statistics of the training features and of the model's held-out scores.

    scores: `ml.drift.scoring.model_scores(model, X_holdout, params.task)`, or None to skip prediction drift.
    Production rows are rows the model never saw, so their scores are compared with scores on the holdout:
    scores on the training rows are overconfident for many models (a random forest's sit far from its held-out
    ones) and would raise prediction-drift alarms on data that has not changed.
    """
    config = drift_config(params)
    features = ProfileBuilder(params.features, config.reference_sample, seed=params.seed)
    features.add(frame_batch(frame, params.features, "training data"))
    profile = features.finish("training data")
    if scores is not None:
        scores = np.asarray(scores)
        if scores.size == 0:
            raise DataError("holdout: no scores for the prediction-drift reference")
        outputs = ProfileBuilder((), config.reference_sample, seed=params.seed)
        outputs.add(Batch(rows=len(scores), columns={}, prediction=as_prediction(scores, params.task)))
        profile.prediction = outputs.finish("holdout scores").prediction
        profile.prediction_origin = "holdout"
    return reference_dict(profile, params.features)


def reference_dict(profile: DataProfile, features: tuple[Feature, ...]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": 1,
        "rows": profile.rows,
        "features": {f.name: f.type for f in features},
        "columns": {name: summary.to_json() for name, summary in profile.columns.items()},
        "prediction": profile.prediction.to_json() if profile.prediction is not None else None,
        "prediction_origin": profile.prediction_origin,
    }


def load_reference(path: str | Path, features: tuple[Feature, ...]) -> DataProfile:
    """Read a reference.json back into a profile; features missing from it or of another type are errors."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable reference.json ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise DataError(f"{path}: not a drift reference (expected the reference.json written at training time)")
    stored = raw.get("features") or {}
    for feature in features:
        if feature.name not in stored or feature.name not in raw.get("columns", {}):
            raise DataError(f"{path}: no statistics for feature '{feature.name}' (retrain to refresh the reference)")
        if (stored[feature.name] in ("int", "float")) != feature.is_numeric:
            raise DataError(f"{path}: feature '{feature.name}' was {stored[feature.name]} at training time, "
                            f"params.yaml now says {feature.type}")
    columns = {f.name: summary_from_json(raw["columns"][f.name], f"{path}: {f.name}") for f in features}
    prediction = raw.get("prediction")
    return DataProfile(
        source=str(path), rows=int(raw.get("rows", 0)), columns=columns,
        prediction=summary_from_json(prediction, f"{path}: prediction") if prediction else None,
        prediction_origin=raw.get("prediction_origin"),
    )
