"""Calibration on replicates: quiet when nothing changed, loud when something did (the issue's acceptance)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ml.drift.config import drift_config
from ml.drift.detect import compare
from ml.drift.profile import profile_batches
from ml.params import Params
from tests.drift.conftest import as_batch, make_columns

REPLICATES = 100
ROWS = 10_000


def run_replicates(params: Params, change: Callable[[dict, np.random.Generator], None] | None,
                   replicates: int, seed: int) -> list[dict]:
    """Independent reference and current samples per replicate; `change` edits the current columns."""
    config = drift_config(params)
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(replicates):
        reference, current = make_columns(rng, ROWS), make_columns(rng, ROWS)
        if change is not None:
            change(current, rng)
        profiles = [profile_batches([as_batch(columns)], side, params.features, config.sample_size)
                    for side, columns in (("reference", reference), ("current", current))]
        results.append(compare(*profiles, params.features, config))
    return results


def flagged(result: dict, column: str) -> bool:
    return next(c for c in result["columns"] if c["column"] == column)["drifted"]


def test_no_shift_false_alarm_rate_is_at_most_five_percent(params: Params) -> None:
    results = run_replicates(params, None, REPLICATES, seed=1)
    dataset_alarms = sum(result["dataset_drift"] for result in results)
    any_column_alarms = sum(bool(result["verdict"]["drifted_columns"]) for result in results)
    assert dataset_alarms / REPLICATES <= 0.05
    assert any_column_alarms / REPLICATES <= 0.05


def test_no_shift_stays_quiet_without_the_effect_gates_too(params: Params) -> None:
    """BH alone (effect gates at 0) must still hold the false alarm rate: the p-values are calibrated."""
    ungated = params.__class__(**{**params.__dict__, "drift": {**params.drift, "numeric_effect": 0.0,
                                                              "categorical_effect": 0.0, "null_rate_change": 0.0,
                                                              "unseen_share": 0.0}})
    results = run_replicates(ungated, None, REPLICATES, seed=2)
    assert sum(bool(result["verdict"]["drifted_columns"]) for result in results) / REPLICATES <= 0.05


def test_a_small_mean_shift_is_caught_with_power_at_least_ninety_percent(params: Params) -> None:
    def shift(current: dict, rng: np.random.Generator) -> None:
        current["monthly_charges"] = current["monthly_charges"] + 0.2 * 20.0  # 0.2 σ (σ = 20)

    results = run_replicates(params, shift, REPLICATES, seed=3)
    power = sum(flagged(result, "monthly_charges") for result in results) / REPLICATES
    assert power >= 0.9
    others = sum(len(result["verdict"]["drifted_columns"]) - flagged(result, "monthly_charges") for result in results)
    assert others / REPLICATES <= 0.05


def test_a_shift_in_a_critical_column_makes_the_dataset_drift(params: Params) -> None:
    def shift(current: dict, rng: np.random.Generator) -> None:
        current["tenure_months"] = np.minimum(current["tenure_months"] + 4, 72)  # ~0.2 σ (σ ≈ 17)

    results = run_replicates(params, shift, 20, seed=4)
    assert sum(result["dataset_drift"] for result in results) / 20 >= 0.9
    assert all("tenure_months" in result["verdict"]["critical_drifted"] for result in results
               if result["dataset_drift"])


def test_a_new_category_in_two_percent_of_rows_is_flagged(params: Params) -> None:
    def new_category(current: dict, rng: np.random.Generator) -> None:
        chosen = rng.random(ROWS) < 0.02
        current["region"] = np.where(chosen, "antarctica", current["region"])

    results = run_replicates(params, new_category, 20, seed=5)
    assert all(flagged(result, "region") for result in results)
    checks = [next(c for c in result["columns"] if c["column"] == "region")["checks"] for result in results]
    assert all(any(check["test"] == "unseen_values" and check["drifted"] for check in column) for column in checks)


def test_a_null_rate_rising_from_zero_to_twenty_percent_is_flagged(params: Params) -> None:
    def null_spike(current: dict, rng: np.random.Generator) -> None:
        values = current["monthly_charges"].astype(np.float64)
        values[rng.random(ROWS) < 0.2] = np.nan
        current["monthly_charges"] = values

    results = run_replicates(params, null_spike, 20, seed=6)
    for result in results:
        column = next(c for c in result["columns"] if c["column"] == "monthly_charges")
        assert column["drifted"] and column["test"] == "null_rate"
        assert column["reference"]["null_rate"] == 0 and column["current"]["null_rate"] == pytest.approx(0.2, abs=0.02)
