"""ml.drift.simulate's mean shift: the drift it injects must show on any column the params allow, or the demo's
drift round (and the drift workflow's dry run) silently reports no drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.drift.simulate import DriftSpec, apply_drift
from ml.params import parse_feature

ROWS = 4000


def flags(rng: np.random.Generator, share: float) -> np.ndarray:
    return (rng.random(ROWS) < share).astype(float)


@pytest.mark.parametrize("spec, values", [
    ({"type": "int", "min": 0, "max": 1}, lambda rng: flags(rng, 0.5)),    # +0.5 rounds back to 0, 1 is clipped
    ({"type": "int", "min": 0, "max": 1}, lambda rng: flags(rng, 0.95)),   # piled against max
    ({"type": "int", "min": 0, "max": 30}, lambda rng: rng.poisson(0.1, ROWS).astype(float)),  # σ under 1/2
    ({"type": "int", "min": 0, "max": 2}, lambda rng: rng.choice([0.0, 1.0, 2.0], ROWS, p=[0.05, 0.1, 0.85])),
    ({"type": "float", "min": 0, "max": 100}, lambda rng: np.where(rng.random(ROWS) < 0.9, 100.0,
                                                                   rng.uniform(0, 100, ROWS))),
    ({"type": "int", "min": 0, "max": 5}, lambda rng: np.full(ROWS, 5.0)),  # constant: no σ to shift by
], ids=["even-flag", "flag-at-max", "rare-counts", "0..2-at-max", "float-at-max", "constant-at-max"])
def test_a_one_sigma_shift_moves_the_mean_whatever_the_range(spec, values):
    rng = np.random.default_rng(0)
    feature, before = parse_feature("x", spec), values(rng)
    after = apply_drift(pd.DataFrame({"x": before}), (feature,), DriftSpec({"x": 1.0}), rng)["x"].to_numpy()
    assert abs(after.mean() - before.mean()) >= 0.45 * (before.std() or 1.0)
    assert feature.min <= after.min() and after.max() <= feature.max
    if feature.type == "int":
        assert np.all(after % 1 == 0)


def test_a_shift_with_room_goes_the_way_it_was_asked_and_keeps_missing_values():
    rng = np.random.default_rng(1)
    before = np.where(rng.random(ROWS) < 0.2, np.nan, rng.normal(65, 20, ROWS))
    feature = parse_feature("x", {"type": "float", "min": 0, "max": 200, "nullable": True})
    after = apply_drift(pd.DataFrame({"x": before}), (feature,), DriftSpec({"x": -0.5}), rng)["x"].to_numpy()
    assert np.nanmean(after) - np.nanmean(before) == pytest.approx(-0.5 * np.nanstd(before), rel=0.02)
    assert np.array_equal(np.isnan(after), np.isnan(before))
