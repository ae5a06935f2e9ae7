"""Same data + same params.yaml → the same holdout and identical predictions, run after run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml.bundle import load_bundle
from ml.dataset import load_dataset
from ml.evaluate import predict
from tests.conftest import Workspace, assert_ok, run_scripts
from tests.core.conftest import params_of


def test_two_training_runs_give_identical_predictions_and_artifacts(workspace: Workspace) -> None:
    ws = workspace
    runs = run_scripts([("train.py", ["--model-dir", name], ws.root) for name in ("model-a", "model-b")])
    for run in runs:
        assert_ok(run)

    params = params_of(ws)
    dataset = load_dataset(params)
    outputs, metadata = [], []
    for name in ("model-a", "model-b"):
        model, meta = load_bundle(ws.root / name)
        outputs.append(predict(model, dataset.X_holdout, params))
        metadata.append(meta)

    assert np.array_equal(outputs[0].predictions, outputs[1].predictions)
    assert np.array_equal(outputs[0].probabilities, outputs[1].probabilities)
    for key in ("data_sha256", "holdout_fingerprint", "training_rows", "classes", "golden"):
        assert metadata[0][key] == metadata[1][key], key
    # The artifact's bytes are reproducible too, on the same machine: HistGradientBoosting pickles its OpenMP
    # thread count (_BinMapper.n_threads), so the hash differs between runners with other core counts, while the
    # predictions do not.
    assert metadata[0]["artifact_sha256"] == metadata[1]["artifact_sha256"]


def test_the_holdout_depends_on_the_seed_and_nothing_else(workspace: Workspace) -> None:
    ws = workspace
    first, again = load_dataset(params_of(ws)), load_dataset(params_of(ws))
    assert first.holdout_fingerprint == again.holdout_fingerprint
    assert np.array_equal(first.y_holdout, again.y_holdout)

    ws.edit_params(lambda raw: raw["split"].update(seed=raw["split"]["seed"] + 1))
    reseeded = load_dataset(params_of(ws))
    assert reseeded.holdout_fingerprint != first.holdout_fingerprint
    rows = len(first.y_holdout) + len(first.y_train)
    for dataset in (first, reseeded):  # each a test_size share of the rows, to within 4 binomial sigmas
        assert abs(len(dataset.y_holdout) - 0.2 * rows) < 4 * (0.2 * 0.8 * rows) ** 0.5


def test_evaluate_reports_every_metric_as_sklearn_computes_it(with_model: Workspace) -> None:
    from sklearn import metrics as skm

    ws = with_model
    assert_ok(ws.run("evaluate.py"))
    report = json.loads((ws.reports / "metrics.json").read_text())

    params = params_of(ws)
    dataset = load_dataset(params)
    model, metadata = load_bundle(ws.model)
    y, proba = dataset.y_holdout, model.predict_proba(dataset.X_holdout)[:, 1]
    labels = model.predict(dataset.X_holdout)
    expected = {
        "accuracy": skm.accuracy_score(y, labels), "roc_auc": skm.roc_auc_score(y, proba),
        "f1": skm.f1_score(y, labels), "precision": skm.precision_score(y, labels),
        "recall": skm.recall_score(y, labels), "log_loss": skm.log_loss(y, proba),
        "brier": skm.brier_score_loss(y, proba),
    }
    # The same numbers to rounding: numpy sums the rows in another order than sklearn.
    assert report["metrics"] == pytest.approx({name: float(value) for name, value in expected.items()}, rel=1e-12)
    assert report["metrics"]["roc_auc"] > 0.7  # the sample has a real signal and the model learns it
    assert report["confusion_matrix"]["matrix"] == skm.confusion_matrix(y, labels).tolist()
    assert report["rows"] == len(y)
    assert report["artifact_sha256"] == metadata["artifact_sha256"]
    assert report["holdout_fingerprint"] == dataset.holdout_fingerprint
