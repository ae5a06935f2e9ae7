"""The `drift:` section of params.yaml, parsed and checked once so every bad value is one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml.errors import ParamsError
from ml.params import Params, reject_unknown

DEFAULTS: dict[str, Any] = {
    "fdr": 0.05,
    "numeric_effect": 0.1,
    "categorical_effect": 0.1,
    "null_rate_change": 0.05,
    "unseen_share": 0.01,
    "dataset_share": 0.3,
    "critical_columns": [],
    "prediction_drift": True,
    "sample_size": 200_000,
    "reference_sample": 20_000,
}


@dataclass(frozen=True)
class DriftConfig:
    fdr: float = DEFAULTS["fdr"]
    numeric_effect: float = DEFAULTS["numeric_effect"]
    categorical_effect: float = DEFAULTS["categorical_effect"]
    null_rate_change: float = DEFAULTS["null_rate_change"]
    unseen_share: float = DEFAULTS["unseen_share"]
    dataset_share: float = DEFAULTS["dataset_share"]
    critical_columns: tuple[str, ...] = ()
    prediction_drift: bool = DEFAULTS["prediction_drift"]
    sample_size: int = DEFAULTS["sample_size"]
    reference_sample: int = DEFAULTS["reference_sample"]

    def as_dict(self) -> dict[str, Any]:
        return {name: list(value) if isinstance(value, tuple) else value for name, value in self.__dict__.items()}


def _number(raw: dict, key: str, low: float, high: float, *, integer: bool = False) -> Any:
    value = raw.get(key, DEFAULTS[key])
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        raise ParamsError(f"params.yaml: 'drift.{key}' must be {what} from {low:g} to {high:g}, got {value!r}")
    return value if integer else float(value)


def drift_config(params: Params) -> DriftConfig:
    """Read params.drift; a missing key takes its default, an unknown or out-of-range one is a ParamsError."""
    raw = params.drift
    reject_unknown(raw, "drift.", tuple(DEFAULTS))
    critical = raw.get("critical_columns") or []
    if not isinstance(critical, list) or not all(isinstance(name, str) for name in critical):
        raise ParamsError("params.yaml: 'drift.critical_columns' must be a list of feature names")
    names = set(params.feature_names)
    for name in critical:
        if name not in names:
            raise ParamsError(f"params.yaml: 'drift.critical_columns' names '{name}', which is not a feature")
    prediction = raw.get("prediction_drift", DEFAULTS["prediction_drift"])
    if not isinstance(prediction, bool):
        raise ParamsError(f"params.yaml: 'drift.prediction_drift' must be true or false, got {prediction!r}")
    return DriftConfig(
        fdr=_number(raw, "fdr", 1e-6, 0.5),
        numeric_effect=_number(raw, "numeric_effect", 0, 10),
        categorical_effect=_number(raw, "categorical_effect", 0, 1),
        null_rate_change=_number(raw, "null_rate_change", 0, 1),
        unseen_share=_number(raw, "unseen_share", 0, 1),
        dataset_share=_number(raw, "dataset_share", 1e-6, 1),
        critical_columns=tuple(critical),
        prediction_drift=prediction,
        sample_size=_number(raw, "sample_size", 1000, 100_000_000, integer=True),
        reference_sample=_number(raw, "reference_sample", 1000, 10_000_000, integer=True),
    )
