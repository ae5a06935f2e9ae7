"""Adopting another dataset takes a params.yaml and the data file: scikit-learn's diabetes regression set,
through the real scripts, two PR rounds (the second compared against the first as champion)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from tests.conftest import Workspace, assert_ok, assert_one_line_error, run_scripts


def diabetes_params(frame) -> dict:
    """What a user writes: one entry per column of their CSV, the task, the model and the metric."""
    features = {}
    for name in frame.columns.drop("progression"):
        if name == "sex":
            features[name] = {"type": "category", "values": sorted(str(v) for v in frame[name].unique())}
        elif name == "age":
            features[name] = {"type": "int", "min": 0, "max": 120}
        else:
            features[name] = {"type": "float", "min": math.floor(frame[name].min()),
                              "max": math.ceil(frame[name].max())}
    return {
        "data": {"path": "data/diabetes.csv"},
        "task": "regression",
        "target": "progression",
        "features": features,
        "model": {"class": "sklearn.linear_model.Ridge", "params": {"alpha": 1000.0}},
        "split": {"test_size": 0.25, "seed": 7},
        "metrics": {"primary": {"name": "rmse", "direction": "minimize"}, "guardrails": {"mae": 5.0}},
        "gate": {"min_improvement": 0.0, "require_significance": True, "confidence": 0.95,
                 "bootstrap_resamples": 200},
        "registry": {"backend": "local", "path": "registry"},
    }


@pytest.fixture
def diabetes(tmp_path: Path) -> Workspace:
    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})
    frame["sex"] = frame["sex"].astype(int)  # coded 1/2: a numeric-looking category
    root = tmp_path / "diabetes"
    (root / "data").mkdir(parents=True)
    frame.to_csv(root / "data" / "diabetes.csv", index=False)
    return Workspace(root, diabetes_params(frame))


def pr_round(ws: Workspace, name: str) -> dict:
    """validate → train → evaluate + compare → render, as the PR workflow runs them; returns comparison.json."""
    reports, model = f"reports/{name}", f"artifacts/{name}"
    assert_ok(ws.run("validate_data.py", "--reports", reports))
    assert_ok(ws.run("train.py", "--model-dir", model))
    for run in run_scripts([("evaluate.py", ["--model-dir", model, "--out", f"{reports}/metrics.json"], ws.root),
                            ("compare.py", ["--model-dir", model, "--out", f"{reports}/comparison.json"], ws.root)]):
        assert_ok(run)
    assert_ok(ws.run("render_report.py", "--reports", reports))
    return json.loads((ws.root / reports / "comparison.json").read_text())


def test_diabetes_regression_runs_the_whole_lifecycle_from_params_yaml_alone(diabetes: Workspace) -> None:
    ws = diabetes
    first = pr_round(ws, "round-1")
    assert first["decision"] == "promote" and first["champion"] is None
    assert set(first["metrics"]) == {"rmse", "mae", "r2"}
    assert_ok(ws.run("promote.py", "--model-dir", "artifacts/round-1", "--comparison",
                     "reports/round-1/comparison.json"))

    ws.edit_params(lambda raw: raw["model"]["params"].update(alpha=1.0))  # far less shrinkage: a clear win
    second = pr_round(ws, "round-2")

    assert second["champion"]["version"] == 1
    assert second["decision"] == "promote", second["reasons"]
    rmse = second["metrics"]["rmse"]
    assert rmse["delta"] == pytest.approx(rmse["challenger"] - rmse["champion"])
    assert rmse["ci_low"] <= rmse["delta"] <= rmse["ci_high"] < 0 and rmse["significant"] is True
    assert second["metrics"]["r2"]["direction"] == "maximize"
    assert "mcnemar" not in second
    assert second["params_diff"] == [{"key": "model.params.alpha", "champion": 1000.0, "challenger": 1.0}]

    metrics = json.loads((ws.root / "reports/round-2/metrics.json").read_text())
    assert set(metrics["metrics"]) == {"rmse", "mae", "r2"} and "confusion_matrix" not in metrics
    report = (ws.root / "reports/round-2/pr_comment.md").read_text()
    assert "✅ Promote: the challenger beats champion v1" in report
    assert "| **rmse** (primary) ↓ |" in report and "| r2 ↑ |" in report and "| mae ↓ |" in report
    assert "`model.params.alpha` | `1000.0` | `1.0`" in report
    assert "Confusion matrix" not in report and "McNemar" not in report

    assert_ok(ws.run("promote.py", "--model-dir", "artifacts/round-2", "--comparison",
                     "reports/round-2/comparison.json"))
    assert sorted(p.name for p in (ws.root / "registry").iterdir()) == [".lock", "champion.json", "v1", "v2"]
    card = (ws.root / "registry" / "v2" / "model_card.md").read_text()
    assert "regression of `progression`" in card and "| rmse |" in card


@pytest.mark.parametrize("cell, says", [
    ("inf", "must be a finite number"),
    ("abc", "must be a finite number"),
    (None, "has missing values but is not nullable"),  # an empty cell
])
def test_a_regression_target_that_is_not_a_finite_number_is_one_validation_error(diabetes: Workspace, cell,
                                                                                   says: str) -> None:
    ws = diabetes
    frame = pd.read_csv(ws.data)
    frame["progression"] = frame["progression"].astype(object)
    frame.loc[7, "progression"] = cell
    frame.to_csv(ws.data, index=False)

    assert_one_line_error(ws.run("validate_data.py"), "'progression'", says)
    report = json.loads((ws.reports / "validation.json").read_text())
    assert report["ok"] is False and {f["column"] for f in report["failures"]} == {"progression"}
