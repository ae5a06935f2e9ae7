"""Simulated production batches: rows resampled from the reference, with drift injected on request.

Resampling whole rows keeps every column's distribution and the relations between columns, so with no drift
asked the batch looks like more of the training data, for any user's dataset. From a reference.json only the
per-column statistics exist, so columns are drawn independently there.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ml.drift.config import drift_config
from ml.drift.readers import bool_label, iter_batches
from ml.drift.reference import load_reference
from ml.drift.summary import NumericSummary
from ml.errors import DataError
from ml.params import Feature, Params

NEW_CATEGORY = "new-value"
SHIFT_SIGMAS, UNSEEN_SHARE, NULL_RATE = 1.0, 0.05, 0.2  # typical drift


@dataclass(frozen=True)
class DriftSpec:
    """What to change: mean shifts in reference standard deviations, new-category shares, null rates."""

    shift_mean: dict[str, float] = field(default_factory=dict)
    new_category: dict[str, float] = field(default_factory=dict)
    null_spike: dict[str, float] = field(default_factory=dict)

    def check(self, features: tuple[Feature, ...]) -> None:
        kinds = {f.name: f for f in features}
        for option, columns, wanted in (("--shift-mean", self.shift_mean, "numeric"),
                                        ("--new-category", self.new_category, "category"),
                                        ("--null-spike", self.null_spike, "any")):
            for name, value in columns.items():
                if name not in kinds:
                    raise DataError(f"{option}: '{name}' is not a feature in params.yaml")
                feature = kinds[name]
                if wanted == "numeric" and not feature.is_numeric:
                    raise DataError(f"{option}: '{name}' is {feature.type}; mean shifts need an int or float feature")
                if wanted == "category" and feature.type != "category":
                    raise DataError(f"{option}: '{name}' is {feature.type}; new categories need a category feature")
                if option != "--shift-mean" and not 0 <= value <= 1:
                    raise DataError(f"{option}: {name}={value:g} must be a share between 0 and 1")


def typical_drift(params: Params) -> DriftSpec:
    """A drift any dataset can show, for `make demo` and the drift workflow's dry run: a 1σ mean shift in a numeric
    feature, 5% unseen values in a category feature (critical ones first) and a 20% null spike in a nullable
    feature (one not moved yet, a category one first), as far as the features allow. Unless that moves a critical
    column, further features move too until their share reaches drift.dataset_share: the batch must trip the
    dataset rule on any data, or the loop it demonstrates (issue, retraining) never starts."""
    config = drift_config(params)
    features = sorted(params.features, key=lambda f: f.name not in config.critical_columns)
    shift, unseen, nulls = _one_of_each(features)
    needed = math.ceil(config.dataset_share * len(features))
    for feature in features:
        moved = {*shift, *unseen, *nulls}
        if len(moved) >= needed or moved & set(config.critical_columns):
            break
        if feature.name not in moved:
            _move(feature, shift, unseen, nulls)
    return DriftSpec(shift_mean=shift, new_category=unseen, null_spike=nulls)


def _one_of_each(features: list[Feature]) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """(mean shifts, unseen-value shares, null rates): the first numeric and category features, and a nullable
    one on a column not moved yet where there is one (so three kinds of drift show on three columns)."""
    shift = dict.fromkeys([f.name for f in features if f.is_numeric][:1], SHIFT_SIGMAS)
    unseen = dict.fromkeys([f.name for f in features if f.type == "category"][:1], UNSEEN_SHARE)
    nullable = sorted((f for f in features if f.nullable),
                      key=lambda f: (f.name in shift or f.name in unseen, f.type != "category"))
    return shift, unseen, dict.fromkeys([f.name for f in nullable[:1]], NULL_RATE)


def _move(feature: Feature, shift: dict[str, float], unseen: dict[str, float], nulls: dict[str, float]) -> None:
    """The typical drift of one more feature: numbers shift, categories get unseen values, booleans go missing."""
    if feature.is_numeric:
        shift[feature.name] = SHIFT_SIGMAS
    elif feature.type == "category":
        unseen[feature.name] = UNSEEN_SHARE
    else:
        nulls[feature.name] = NULL_RATE


def reference_rows(path: str | Path, params: Params, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """`rows` rows like the reference's: resampled from a data file, or drawn per column from a reference.json."""
    if str(path).lower().endswith(".json"):
        profile = load_reference(path, params.features)
        return pd.DataFrame({name: _draw(summary, rows, rng) for name, summary in profile.columns.items()})
    columns: dict[str, list[Any]] = {f.name: [] for f in params.features}
    for batch in iter_batches(path, params.features, params.task):
        for name, values in batch.columns.items():
            columns[name].append(values)
    frame = pd.DataFrame({name: _concat(parts) for name, parts in columns.items()})
    if frame.empty:
        raise DataError(f"{path}: no rows to resample")
    return frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)


def _concat(parts: list[Any]) -> np.ndarray:
    if parts and isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return pa.chunked_array(parts, type=pa.string()).to_numpy().astype(object) if parts else np.empty(0)


def _draw(summary: Any, rows: int, rng: np.random.Generator) -> np.ndarray:
    nulls = rng.random(rows) < summary.nulls / max(summary.rows, 1)
    if isinstance(summary, NumericSummary):
        values = rng.choice(summary.sample, rows) if summary.sample.size else np.full(rows, np.nan)
        return np.where(nulls, np.nan, values)
    labels = np.array(list(summary.counts), dtype=object)
    counts = np.array(list(summary.counts.values()), dtype=np.float64)
    values = rng.choice(labels, rows, p=counts / counts.sum()) if labels.size else np.full(rows, None, dtype=object)
    values[nulls] = None
    return values


def _moved(values: np.ndarray, step: float, feature: Feature, rng: np.random.Generator) -> np.ndarray:
    """values + step within the feature's min/max (as the server's validation keeps them); an int is rounded at
    random, up with the chance of its fraction, so a step under half a unit moves the mean instead of nothing."""
    low = -np.inf if feature.min is None else feature.min
    high = np.inf if feature.max is None else feature.max
    moved = np.clip(values + step, low, high)
    if feature.type == "int":
        moved = np.floor(moved) + (rng.random(moved.size) < moved % 1)
    return moved


def _shift(values: np.ndarray, feature: Feature, sigmas: float, rng: np.random.Generator) -> np.ndarray:
    """values shifted by `sigmas` standard deviations (a constant column's unit is the detector's, max(|mean|, 1)).
    When min/max absorbs most of the shift (values piled against it, a 0/1 flag that is mostly 1), the shift goes
    the other way if that moves the mean further: a drift simulation must move the column on any data."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return values
    mean = finite.mean()
    step = sigmas * (finite.std() or max(abs(mean), 1.0))

    def change(moved: np.ndarray) -> float:
        return abs(np.nanmean(moved) - mean)

    moved = _moved(values, step, feature, rng)
    if change(moved) < abs(step) / 2:
        moved = max(moved, _moved(values, -step, feature, rng), key=change)
    return moved


def apply_drift(frame: pd.DataFrame, features: tuple[Feature, ...], spec: DriftSpec,
                rng: np.random.Generator) -> pd.DataFrame:
    """Shift means (kept in the feature's min/max: see _shift), add a new category to a share of rows, blank a
    share of rows; each on its own random rows."""
    frame = frame.copy()
    by_name = {f.name: f for f in features}
    for name, sigmas in spec.shift_mean.items():
        frame[name] = _shift(frame[name].to_numpy(dtype=np.float64), by_name[name], sigmas, rng)
    for name, share in spec.new_category.items():
        chosen = rng.random(len(frame)) < share
        frame[name] = np.where(chosen, NEW_CATEGORY, frame[name].to_numpy(dtype=object))
    for name, rate in spec.null_spike.items():
        chosen = rng.random(len(frame)) < rate
        values = frame[name].to_numpy(dtype=np.float64 if by_name[name].is_numeric else object, copy=True)
        values[chosen] = np.nan if by_name[name].is_numeric else None
        frame[name] = values
    return frame


def log_records(frame: pd.DataFrame, features: tuple[Feature, ...], predictions: list[Any] | None,
                probabilities: list[float | None] | None, model_version: str | None,
                end: datetime | None = None) -> list[dict[str, Any]]:
    """The server's prediction-log records, timestamps spread over the hour before `end`."""
    end = end or datetime.now(UTC)
    rows = len(frame)
    columns = {f.name: [_json_value(value, f) for value in frame[f.name].tolist()] for f in features}
    step = timedelta(seconds=3600 / max(rows, 1))
    return [{
        "ts": (end - (rows - index) * step).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "model_version": model_version,
        "features": {name: values[index] for name, values in columns.items()},
        "prediction": predictions[index] if predictions is not None else None,
        "probability": probabilities[index] if probabilities is not None else None,
    } for index in range(rows)]


def _json_value(value: Any, feature: Feature) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if feature.type == "int":
        return int(value)
    if feature.type == "float":
        return float(value)
    if feature.type == "bool":
        label = bool_label(str(value))
        return label == "true" if label in ("true", "false") else value
    return str(value)


def model_outputs(model: Any, frame: pd.DataFrame, features: tuple[Feature, ...],
                  task: str) -> tuple[list[Any], list[float] | None]:
    """(predictions, positive-class probabilities or None), as the server logs them."""
    from ml.drift.scoring import model_frame

    inputs = model_frame(frame, features)
    predictions = [value.item() if hasattr(value, "item") else value for value in model.predict(inputs)]
    if task == "classification" and hasattr(model, "predict_proba") and len(getattr(model, "classes_", ())) == 2:
        return predictions, [float(p) for p in model.predict_proba(inputs)[:, 1]]
    return predictions, None


def records_text(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records)


def records_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The same records flattened into one table (for a .csv or .parquet --out)."""
    return pd.DataFrame([{"ts": r["ts"], "model_version": r["model_version"], **r["features"],
                          "prediction": r["prediction"], "probability": r["probability"]} for r in records])
