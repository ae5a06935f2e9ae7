"""The PR comment and the job summary: what a reviewer sees on every pull request."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from ml.report import MARKER, write_pr_reports
from ml.steps import compare_step, evaluate_step, validate_step
from tests.conftest import Workspace, assert_ok, assert_one_line_error, make_workspace
from tests.core.conftest import params_of, promote_in_process, train_in_process


def run_steps(ws: Workspace) -> tuple[str, str, dict]:
    """validate → evaluate → compare → render for the workspace model; returns (comment, summary, comparison)."""
    params = params_of(ws)
    validate_step(params, ws.reports)
    evaluate_step(params, ws.model, ws.reports / "metrics.json")
    comparison = compare_step(params, ws.model, ws.reports / "comparison.json")
    comment, summary = write_pr_reports(ws.reports)
    return comment.read_text(), summary.read_text(), comparison


@pytest.fixture(scope="module")
def second_round(tmp_path_factory, sample_csv, trained_model) -> tuple[Workspace, str, str, dict]:
    """Champion v1 in the registry; the workspace model retrained with a changed hyperparameter. Read-only."""
    ws = make_workspace(tmp_path_factory.mktemp("report") / "ws", sample_csv)
    shutil.copytree(trained_model, ws.model)
    promote_in_process(ws)
    ws.edit_params(lambda raw: raw["model"]["params"].update(max_iter=40, learning_rate=0.05))
    train_in_process(ws)
    return (ws, *run_steps(ws))


def test_pr_comment_has_marker_verdict_table_chart_confusion_and_params_diff(second_round) -> None:
    ws, comment, _, comparison = second_round

    assert comment.startswith(MARKER + "\n")
    verdict = "✅ Promote: the challenger beats" if comparison["decision"] == "promote" else \
        "❌ Reject: the challenger does not beat"
    assert f"## {verdict} champion v1" in comment
    for reason in comparison["reasons"]:
        assert f"- {reason}" in comment

    assert "| metric | champion v1 | challenger | Δ | 95% CI | significant |" in comment
    for name, m in comparison["metrics"].items():
        label = f"**{name}** (primary)" if name == "roc_auc" else name
        row = next(line for line in comment.splitlines() if line.startswith(f"| {label} "))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1:4] == [f"{m['champion']:.4f}", f"{m['challenger']:.4f}", f"{m['delta']:+.4f}"], row
        assert cells[4] == f"[{m['ci_low']:+.4f}, {m['ci_high']:+.4f}]", row
        assert cells[5] == ("yes" if m["significant"] else "no"), row

    assert "McNemar's test on accuracy: p = " in comment
    chart = re.search(r"```mermaid\nxychart-beta\n(.*?)```", comment, re.S)
    assert chart and "bar [" in chart.group(1) and "line [" in chart.group(1)
    assert "Confusion matrix of the challenger" in comment
    matrix = json.loads((ws.reports / "metrics.json").read_text())["confusion_matrix"]["matrix"]
    assert f"| **0** | {matrix[0][0]} | {matrix[0][1]} |" in comment

    assert "### Params changed since the champion" in comment
    assert "| `model.params.learning_rate` | `0.1` | `0.05` |" in comment
    assert "| `model.params.max_iter` | `200` | `40` |" in comment
    assert "✅ **Data valid**" in comment and "(same data as the champion)" in comment
    assert comparison["holdout"]["fingerprint"] in comment


def test_job_summary_is_the_same_report_without_the_marker(second_round) -> None:
    _, comment, summary, _ = second_round
    assert MARKER not in summary
    assert comment == MARKER + "\n" + summary


def test_first_model_report_says_there_is_no_champion(with_model: Workspace) -> None:
    comment, _, comparison = run_steps(with_model)
    assert comparison["champion"] is None
    assert "## 🆕 Promote: first model, no champion yet" in comment
    assert "no champion yet" in comment
    assert "Params changed since the champion" not in comment
    assert "| metric | champion | challenger |" in comment
    assert "bar [" not in comment and "line [" in comment  # the chart shows the challenger alone


def test_render_report_script_writes_both_files_and_refuses_mismatched_reports(second_round, tmp_path) -> None:
    ws, comment, summary, _ = second_round
    reports = shutil.copytree(ws.reports, tmp_path / "reports")
    for name in ("pr_comment.md", "job_summary.md"):
        (reports / name).unlink()

    run = assert_ok(ws.run("render_report.py", "--reports", str(reports)))
    assert "pr_comment.md" in run.stdout
    def without_commit(text: str) -> str:  # the script runs outside a git checkout: commit `unknown`
        return re.sub(r"Commit `[^`]*`", "Commit", text)

    assert without_commit((reports / "job_summary.md").read_text()) == without_commit(summary)
    assert without_commit((reports / "pr_comment.md").read_text()) == without_commit(comment)

    metrics = json.loads((reports / "metrics.json").read_text())
    metrics["artifact_sha256"] = "0" * 64
    (reports / "metrics.json").write_text(json.dumps(metrics))
    assert_one_line_error(ws.run("render_report.py", "--reports", str(reports)), "different models")
    assert not (reports / "pr_comment.md").exists() and not (reports / "job_summary.md").exists()


def test_reports_are_strict_json_when_a_metric_is_undefined(tmp_path) -> None:
    """A one-vs-rest ROC AUC on a holdout that lacks a class is NaN; the file says null, which every parser reads."""
    import numpy as np

    from ml.evaluate import Outputs
    from ml.fileio import write_json_atomic
    from ml.weighted_metrics import point_scores

    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]])
    scores = point_scores(np.array([0, 1, 0, 1]), Outputs(proba.argmax(axis=1), proba, (0, 1, 2)), "classification")
    assert np.isnan(scores["roc_auc"]) and scores["accuracy"] == 1.0
    path = write_json_atomic(tmp_path / "metrics.json", {"metrics": scores, "ci": (float("-inf"), 0.5)})

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    written = json.loads(path.read_text(), parse_constant=refuse)
    assert written["metrics"]["roc_auc"] is None and written["metrics"]["accuracy"] == 1.0
    assert written["ci"] == [None, 0.5]


def test_data_that_validates_but_cannot_be_split_gets_the_invalid_data_report(workspace: Workspace) -> None:
    """pr.yml renders the report when validation failed: validation.json must say so, or no comment is posted."""
    import pandas as pd

    ws = workspace
    pd.read_csv(ws.data).assign(churned=0).to_csv(ws.data, index=False)

    says = "target 'churned' has a single class (0); nothing to learn"
    assert_one_line_error(ws.run("validate_data.py"), says)
    validation = json.loads((ws.reports / "validation.json").read_text())
    assert validation["ok"] is False and validation["error"] == says
    assert_ok(ws.run("render_report.py"))
    comment = (ws.reports / "pr_comment.md").read_text()
    assert "## ❌ Data invalid: the pipeline stopped before training" in comment and says in comment


def test_a_holdout_without_positives_leaves_the_decision_to_a_human_and_says_why(workspace: Workspace) -> None:
    """Two positives in the data both stay in training: ROC AUC is NaN on the holdout, for both models."""
    import pandas as pd

    ws = workspace
    frame = pd.read_csv(ws.data)
    frame.loc[frame.index[frame.churned == 1][2:], "churned"] = 0
    frame.to_csv(ws.data, index=False)
    train_in_process(ws)
    promote_in_process(ws)
    ws.edit_params(lambda raw: raw["model"]["params"].update(learning_rate=0.05))
    train_in_process(ws)

    comment, _, comparison = run_steps(ws)

    assert comparison["decision"] == "reject" and comparison["needs_human_review"] is True
    written = json.loads((ws.reports / "comparison.json").read_text())["metrics"]["roc_auc"]
    assert written["champion"] is None and written["challenger"] is None
    assert "## ⚠️ Needs a human" in comment
    assert "- cannot compare: roc_auc is undefined on this holdout" in comment
