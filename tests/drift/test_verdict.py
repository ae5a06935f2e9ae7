"""The dataset rule: which column results make the dataset drift, and what the verdict reports."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ml.drift.config import DriftConfig
from ml.drift.verdict import dataset_verdict

FEATURES = ("tenure_months", "monthly_charges", "contract", "region", "support_tickets")


def results(drifted_features: tuple[str, ...] = (), prediction_drifted: bool | None = None) -> list[dict[str, Any]]:
    """Column results as detect makes them (the fields the rule reads); a prediction column unless None."""
    columns = [{"column": name, "role": "feature", "drifted": name in drifted_features} for name in FEATURES]
    if prediction_drifted is not None:
        columns.append({"column": "prediction", "role": "prediction", "drifted": prediction_drifted})
    return columns


CONFIG = DriftConfig(dataset_share=0.3, critical_columns=("contract",))


@pytest.mark.parametrize("prediction_drift", [True, False])
def test_a_drifted_prediction_alone_drifts_the_dataset_only_when_prediction_drift_is_on(prediction_drift) -> None:
    config = replace(CONFIG, prediction_drift=prediction_drift)
    verdict = dataset_verdict(results(("region",), prediction_drifted=True), config)  # 1 of 5: below the share
    assert verdict["dataset_drift"] is prediction_drift
    assert verdict["reasons"] == (["the model's prediction distribution drifted"] if prediction_drift else [])
    assert verdict["prediction_drifted"] is True  # reported either way
    assert verdict["drifted_columns"] == ["region"]


def test_with_prediction_drift_off_the_feature_rules_still_drift_the_dataset() -> None:
    config = replace(CONFIG, prediction_drift=False)
    critical = dataset_verdict(results(("contract",), prediction_drifted=True), config)
    assert critical["dataset_drift"] is True and critical["reasons"] == ["critical column drifted: contract"]
    share = dataset_verdict(results(("region", "support_tickets"), prediction_drifted=False), config)
    assert share["dataset_drift"] is True and share["drifted_share"] == pytest.approx(0.4)
    assert share["reasons"] == ["2 of 5 feature columns drifted (40%, rule: at least 30%)"]


def test_without_a_prediction_column_its_drift_is_unknown_not_false() -> None:
    verdict = dataset_verdict(results(), CONFIG)
    assert verdict["dataset_drift"] is False and verdict["reasons"] == []
    assert verdict["prediction_drifted"] is None
