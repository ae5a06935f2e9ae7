"""A challenger fitted on other data or with other model settings than today's is retrained, never scored: its
report would describe another model under today's params.yaml. Settings that only judge a model (gate, metrics)
do not make it stale, and the champion, trained on older data by design, is compared all the same."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ml.bundle import read_metadata
from ml.compatibility import stale_reasons
from ml.fileio import sha256_file
from ml.steps import compare_step
from tests.conftest import Workspace, assert_ok, assert_one_line_error, run_scripts
from tests.core.conftest import params_of, train_in_process

OUTPUTS = ("metrics.json", "comparison.json")
RETRAIN = "; retrain it (scripts/train.py)"


def _last_run_reports(ws: Workspace) -> None:
    ws.reports.mkdir(exist_ok=True)
    for name in OUTPUTS:
        (ws.reports / name).write_text("{}")


def _evaluate_and_compare(ws: Workspace):
    return run_scripts([(script, [], ws.root) for script in ("evaluate.py", "compare.py")])


def test_a_changed_hyperparameter_is_retrained_not_scored(with_model: Workspace) -> None:
    ws = with_model
    _last_run_reports(ws)
    ws.edit_params(lambda raw: raw["model"]["params"].update(max_iter=40))

    for run in _evaluate_and_compare(ws):
        assert_one_line_error(run, "artifacts/model: the model was trained with other settings "
                                   f"(model.params.max_iter 200 → 40){RETRAIN}")
    assert not any((ws.reports / name).exists() for name in OUTPUTS)  # no stale report left looking current


def test_a_hyperparameter_set_or_left_to_its_default_is_a_change(with_model: Workspace) -> None:
    ws = with_model

    def change(raw: dict) -> None:
        raw["model"]["params"].pop("max_leaf_nodes")
        raw["model"]["params"]["l2_regularization"] = 0.5

    ws.edit_params(change)
    evaluate, _ = _evaluate_and_compare(ws)

    assert_one_line_error(evaluate, "model.params.l2_regularization (default) → 0.5",
                          "model.params.max_leaf_nodes 31 → (default)")


def test_changed_data_is_retrained_not_scored(with_model: Workspace) -> None:
    ws = with_model
    _last_run_reports(ws)
    trained_on = read_metadata(ws.model)["data_sha256"]
    pd.read_csv(ws.data).iloc[:-50].to_csv(ws.data, index=False)  # same schema and labels, other rows
    now = sha256_file(ws.data)

    for run in _evaluate_and_compare(ws):
        assert_one_line_error(run, f"artifacts/model: the model was trained on other data (sha256 {trained_on[:12]}… "
                                   f"then, {now[:12]}… now){RETRAIN}")
    assert not any((ws.reports / name).exists() for name in OUTPUTS)


def test_changed_data_and_settings_are_both_named_on_one_line(with_model: Workspace) -> None:
    ws = with_model
    pd.read_csv(ws.data).iloc[:-50].to_csv(ws.data, index=False)
    ws.edit_params(lambda raw: raw["split"].update(seed=7))

    evaluate, _ = _evaluate_and_compare(ws)

    assert_one_line_error(evaluate, "trained on other data (sha256 ", "and with other settings (split.seed 42 → 7)")


def test_gate_and_metrics_settings_do_not_make_the_model_stale(with_model: Workspace) -> None:
    """They judge the model, they do not fit it: changing a threshold must not ask for a retrain."""
    ws = with_model

    def judge_differently(raw: dict) -> None:
        raw["gate"].update(min_improvement=0.01, require_significance=True, confidence=0.9)
        raw["metrics"]["guardrails"]["recall"] = 0.1
        raw["metrics"]["primary"] = {"name": "log_loss", "direction": "minimize"}
        raw["features"]["tenure_months"]["max"] = 100  # a bound only validates the data, which the hash pins
        raw["features"] = dict(reversed(raw["features"].items()))  # columns are taken by name
        raw["drift"]["fdr"] = 0.1

    ws.edit_params(judge_differently)
    evaluate, compare = _evaluate_and_compare(ws)

    assert_ok(evaluate)
    assert_ok(compare)
    assert json.loads((ws.reports / "metrics.json").read_text())["metrics"]["log_loss"] > 0
    assert json.loads((ws.reports / "comparison.json").read_text())["primary_metric"] == "log_loss"


def test_the_champion_trained_on_older_data_is_still_compared(with_champion: Workspace) -> None:
    ws = with_champion
    pd.read_csv(ws.data).iloc[:-50].to_csv(ws.data, index=False)
    ws.edit_params(lambda raw: raw["model"]["params"].update(learning_rate=0.05))
    train_in_process(ws)  # the challenger is current; the champion is not, by design

    result = compare_step(params_of(ws), ws.model, ws.reports / "comparison.json")

    assert result["champion"]["data_sha256"] != result["challenger"]["data_sha256"]
    assert result["metrics"]["roc_auc"]["champion"] is not None
    assert {"key": "model.params.learning_rate", "champion": 0.1, "challenger": 0.05} in result["params_diff"]


# ---------------------------------------------------------------- stale_reasons on edited metadata


@pytest.fixture
def current(with_model: Workspace):
    """(metadata, params, data sha256, holdout fingerprint) of a model that is current."""
    from ml.dataset import load_dataset

    params = params_of(with_model)
    dataset = load_dataset(params)
    return read_metadata(with_model.model), params, dataset.data_sha256, dataset.holdout_fingerprint


def test_a_current_model_is_not_stale(current) -> None:
    assert stale_reasons(*current) is None


@pytest.mark.parametrize("edit, says", [
    (lambda m: m.update(model_class="sklearn.ensemble.RandomForestClassifier"),
     "with other settings (model.class \"sklearn.ensemble.RandomForestClassifier\" → "
     "\"sklearn.ensemble.HistGradientBoostingClassifier\")"),
    (lambda m: m["params"]["split"].update(test_size=0.3), "with other settings (split.test_size 0.3 → 0.2)"),
    (lambda m: m["params"]["model"]["params"].update(max_iter=True), "model.params.max_iter true → 200"),
    (lambda m: next(f for f in m["features"] if f["name"] == "contract")["values"].remove("two-year"),
     "with other settings (features.contract.values [\"month-to-month\", \"one-year\"] → "
     "[\"month-to-month\", \"one-year\", \"two-year\"])"),
    (lambda m: m.update(holdout_fingerprint="0" * 16),
     "on another train/holdout split (holdout fingerprint 0000000000000000 then, "),
])
def test_what_fits_the_model_is_compared(current, edit, says) -> None:
    metadata, *today = current
    edit(metadata)
    assert says in stale_reasons(metadata, *today)


def test_equal_numbers_are_the_same_setting_and_unrecorded_facts_are_not_stale(current) -> None:
    metadata, *today = current
    metadata["params"]["model"]["params"]["max_iter"] = 200.0
    metadata["params"]["split"]["test_size"] = 0.2
    next(f for f in metadata["features"] if f["name"] == "contract")["values"].reverse()  # the same columns
    metadata["features"].reverse()
    assert stale_reasons(metadata, *today) is None
    for key in ("data_sha256", "holdout_fingerprint", "params"):
        metadata.pop(key)
    assert stale_reasons(metadata, *today) is None


def test_many_changes_stay_on_one_short_line(current) -> None:
    metadata, params, *_ = current
    metadata["params"]["model"]["params"] = {f"knob_{i}": "x\ny" * 40 for i in range(6)}
    reasons = stale_reasons(metadata, params, "f" * 64)
    assert "\n" not in reasons
    assert reasons.count("→") == 3 and " and 6 more)" in reasons
    assert len(reasons) < 500
