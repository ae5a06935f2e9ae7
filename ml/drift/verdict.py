"""From many column tests to one answer: Benjamini-Hochberg across every test, then the dataset rule.

Testing 25 columns × 3 checks at 5% each would cry wolf on most quiet weeks; BH keeps the expected share of
false discoveries among the flagged tests at `fdr`, and the effect-size gates keep huge samples from flagging
differences too small to matter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ml.drift.config import DriftConfig


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (step-up, monotone, capped at 1), in the input order."""
    p_values = np.asarray(p_values, dtype=np.float64)
    count = p_values.size
    if not count:
        return p_values
    order = np.argsort(p_values)
    scaled = p_values[order] * count / np.arange(1, count + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(count)
    result[order] = np.minimum(adjusted, 1.0)
    return result


def dataset_verdict(columns: list[dict[str, Any]], config: DriftConfig) -> dict[str, Any]:
    """Apply the configured rule to the column results (features and, if present, the prediction)."""
    features = [column for column in columns if column["role"] == "feature"]
    drifted = [column["column"] for column in features if column["drifted"]]
    share = len(drifted) / len(features) if features else 0.0
    critical = [name for name in drifted if name in config.critical_columns]
    prediction = next((column for column in columns if column["role"] == "prediction"), None)
    prediction_drifted = bool(prediction and prediction["drifted"])

    reasons = []
    if features and share >= config.dataset_share:
        reasons.append(f"{len(drifted)} of {len(features)} feature columns drifted ({share:.0%}, "
                       f"rule: at least {config.dataset_share:.0%})")
    if critical:
        reasons.append(f"critical column{'s' if len(critical) > 1 else ''} drifted: {', '.join(critical)}")
    if prediction_drifted and config.prediction_drift:
        reasons.append("the model's prediction distribution drifted")
    return {
        "dataset_drift": bool(reasons),
        "reasons": reasons,
        "drifted_columns": drifted,
        "drifted_share": share,
        "critical_drifted": critical,
        "prediction_drifted": prediction_drifted if prediction else None,
    }
