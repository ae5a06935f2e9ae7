"""A True/False target stays True/False: the model's classes, the reports, the confusion matrix, the golden
records and the served predictions all show the user's labels, never 0/1."""

from __future__ import annotations

import json

import pandas as pd

from ml.bundle import load_bundle
from ml.report import write_pr_reports
from ml.steps import compare_step, evaluate_step, validate_step
from serving.predictor import Predictor
from tests.conftest import Workspace
from tests.core.conftest import params_of, train_in_process


def test_a_boolean_target_keeps_its_labels_from_training_to_serving(workspace: Workspace) -> None:
    ws = workspace
    frame = pd.read_csv(ws.data)
    frame.assign(churned=frame.churned.astype(bool)).to_csv(ws.data, index=False)  # written as True/False
    assert pd.read_csv(ws.data).churned.dtype == bool
    params = params_of(ws)

    validate_step(params, ws.reports)
    train_in_process(ws)
    model, metadata = load_bundle(ws.model)
    assert metadata["classes"] == [False, True] and all(type(c) is bool for c in metadata["classes"])
    assert {type(entry["prediction"]) for entry in metadata["golden"]} == {bool}
    assert model.classes_.dtype == bool

    evaluate_step(params, ws.model, ws.reports / "metrics.json")
    metrics = json.loads((ws.reports / "metrics.json").read_text())
    assert metrics["confusion_matrix"]["labels"] == ["False", "True"]
    assert sum(map(sum, metrics["confusion_matrix"]["matrix"])) == metrics["rows"]
    assert 0.5 < metrics["metrics"]["roc_auc"] <= 1 and 0 < metrics["metrics"]["recall"] <= 1  # True is positive
    compare_step(params, ws.model, ws.reports / "comparison.json")
    comment, summary = write_pr_reports(ws.reports)
    for text in (comment.read_text(), summary.read_text()):
        assert "| `False` |" in text and "| `True` |" in text
        assert "| **0** |" not in text and "| **1** |" not in text

    predictor = Predictor(model, params)
    predictor.check_golden(metadata["golden"])  # what the server checks before it serves
    outputs = predictor.predict([entry["features"] for entry in metadata["golden"]])
    assert outputs.predictions == [entry["prediction"] for entry in metadata["golden"]]
    assert {type(label) for label in outputs.predictions} == {bool}  # JSON true/false, not 0/1
