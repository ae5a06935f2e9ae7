"""The PR comment and the job summary: what a reviewer sees on every pull request."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from ml.github.inert import WORD_JOINER as WJ
from ml.github.inert import markdown_problem
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


@pytest.fixture(scope="module")
def regression_round(tmp_path_factory, sample_csv) -> tuple[Workspace, str, str, dict]:
    """second_round for a regression of monthly_charges: champion v1, then a retrained challenger. Read-only."""
    def regression(raw: dict) -> None:
        raw["features"].pop("monthly_charges")
        raw.update(task="regression", target="monthly_charges")
        raw["model"] = {"class": "sklearn.ensemble.HistGradientBoostingRegressor", "params": {"max_iter": 50}}
        raw["metrics"] = {"primary": {"name": "rmse", "direction": "minimize"}, "guardrails": {"mae": 0.5}}

    ws = make_workspace(tmp_path_factory.mktemp("regression") / "ws", sample_csv)
    ws.edit_params(regression)
    pd.read_csv(ws.data).drop(columns="churned").to_csv(ws.data, index=False)
    train_in_process(ws)
    promote_in_process(ws)
    ws.edit_params(lambda raw: raw["model"]["params"].update(max_iter=20))
    train_in_process(ws)
    return (ws, *run_steps(ws))


def test_pr_comment_has_marker_verdict_table_chart_confusion_and_params_diff(second_round) -> None:
    ws, comment, _, comparison = second_round

    assert comment.startswith(MARKER + "\n")
    primary = comparison["metrics"]["roc_auc"]
    verdict = ("❌ Reject: the challenger does not beat champion v1" if comparison["decision"] != "promote" else
               "✅ Promote: the challenger beats champion v1" if primary["ci_low"] > 0 else
               "✅ Promote: the challenger improves on champion v1 (within noise)")
    assert f"## {verdict}\n" in comment
    for reason in comparison["reasons"]:
        assert f"- {reason}" in comment

    assert "| metric | champion v1 | challenger | Δ | 95% CI | significant |" in comment
    for name, m in comparison["metrics"].items():
        label = f"**{name}** (primary)" if name == "roc_auc" else name
        row = next(line for line in comment.splitlines() if line.startswith(f"| {label} "))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1:4] == [f"{m['champion']:.4f}", f"{m['challenger']:.4f}", f"{m['delta']:+.3g}"], row
        assert cells[4] == f"[{m['ci_low']:+.3g}, {m['ci_high']:+.3g}]", row
        assert cells[5] in (("better", "worse") if m["significant"] else ("no",)), row

    assert "McNemar's test on accuracy: p = " in comment
    chart = re.search(r"```mermaid\nxychart-beta\n(.*?)```", comment, re.S)
    assert chart and "bar [" in chart.group(1) and "line [" in chart.group(1)
    assert "Confusion matrix of the challenger" in comment
    matrix = json.loads((ws.reports / "metrics.json").read_text())["confusion_matrix"]["matrix"]
    assert f"| `0` | {matrix[0][0]} | {matrix[0][1]} |" in comment

    assert "### Params changed since the champion" in comment
    assert "| `model.params.learning_rate` | `0.1` | `0.05` |" in comment
    assert "| `model.params.max_iter` | `200` | `40` |" in comment
    assert "✅ **Data valid**" in comment and "(same data as the champion)" in comment
    assert comparison["holdout"]["fingerprint"] in comment
    assert markdown_problem(comment) is None  # what pr-comment.yml requires of a PR's comment


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

    metrics["artifact_sha256"] = json.loads((reports / "comparison.json").read_text())["challenger"]["artifact_sha256"]
    (reports / "metrics.json").write_text(json.dumps(metrics))
    validation = json.loads((reports / "validation.json").read_text())
    (reports / "validation.json").write_text(json.dumps({**validation, "data_sha256": "f" * 64}))
    assert_one_line_error(ws.run("render_report.py", "--reports", str(reports)), "different data")

    # A new run starts: validation removes the later steps' reports, so a failed train cannot be followed by a
    # report of the earlier model under today's validation.
    assert_ok(ws.run("validate_data.py", "--reports", str(reports)))
    assert sorted(path.name for path in reports.iterdir()) == ["validation.json", "validation.md"]
    assert_one_line_error(ws.run("render_report.py", "--reports", str(reports)), "evaluate.py")


def test_reports_are_strict_json_when_a_metric_is_undefined(tmp_path) -> None:
    """ROC AUC on a holdout with a single class is NaN; the file says null, which every parser reads."""
    import numpy as np

    from ml.evaluate import Outputs
    from ml.fileio import write_json_atomic
    from ml.weighted_metrics import point_scores

    proba = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]])
    scores = point_scores(np.array([0, 0]), Outputs(proba.argmax(axis=1), proba, (0, 1, 2)), "classification")
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
    promote_in_process(ws, force=True)  # the first model's gate asks a human too; the human said yes
    ws.edit_params(lambda raw: raw["model"]["params"].update(learning_rate=0.05))
    train_in_process(ws)

    comment, _, comparison = run_steps(ws)

    assert comparison["decision"] == "reject" and comparison["needs_human_review"] is True
    written = json.loads((ws.reports / "comparison.json").read_text())["metrics"]["roc_auc"]
    assert written["champion"] is None and written["challenger"] is None
    assert "## ⚠️ Needs a human" in comment
    assert "- cannot compare: roc_auc is undefined on this holdout" in comment


# ---------------------------------------------------------------- rendering constructed reports


def metric(champion: float | None, challenger: float, low: float | None = None, high: float | None = None,
           direction: str = "maximize") -> dict:
    delta = None if champion is None else challenger - champion
    significant = None if low is None else bool(low > 0 or high < 0)
    return {"champion": champion, "challenger": challenger, "delta": delta, "ci_low": low, "ci_high": high,
            "significant": significant, "direction": direction}


def comparison_of(champion: bool = True, **metrics: dict) -> dict:
    """A comparison.json of a promoted challenger, as compare.py writes it; metrics default to a clear win."""
    model = {"version": 1, "artifact_sha256": "a" * 64, "data_sha256": "d" * 64}
    metrics = metrics or {"roc_auc": metric(0.80, 0.85, 0.03, 0.07), "log_loss": metric(
        0.45, 0.44, -0.02, -0.001, "minimize")}
    if not champion:
        metrics = {name: metric(None, m["challenger"], direction=m["direction"]) for name, m in metrics.items()}
    return {"primary_metric": "roc_auc", "direction": "maximize", "confidence": 0.95, "resamples": 1000,
            "holdout": {"rows": 300, "fingerprint": "f" * 16}, "challenger": {**model, "version": None,
                                                                              "artifact_sha256": "c" * 64},
            "champion": model if champion else None, "needs_human_review": False, "metrics": metrics,
            "params_diff": [], "decision": "promote", "reasons": ["roc_auc improved by 0.0500 (gate: ≥ 0)"]}


VALID = {"ok": True, "rows": 1000, "data": "data/x.csv", "data_sha256": "d" * 64}


def render(comparison: dict, confusion: dict | None = None) -> str:
    from ml.report import render_pr_report

    return render_pr_report(comparison, VALID, {"confusion_matrix": confusion}, "0" * 40)


def cells(row: str) -> list[str]:
    """A GFM table row's cells: split on the pipes that are not escaped."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def table_row(text: str, starts: str) -> list[str]:
    return cells(next(line for line in text.splitlines() if line.startswith(starts)))


def test_pipes_html_and_newlines_in_labels_and_params_stay_inside_their_cells() -> None:
    comparison = comparison_of()
    comparison["params_diff"] = [{"key": "features.taste.values", "champion": ["red|dry", "<b>sweet</b>"],
                                  "challenger": ["red|dry"]}]
    comment = render(comparison, {"labels": ["red|dry", "<b>sweet</b>", "two\nlines"],
                                  "matrix": [[5, 1, 0], [2, 7, 0], [0, 0, 3]]})

    assert "<b>" not in re.sub("`[^`]*`", "", comment)  # a code span shows HTML as text, and an entity literally
    assert table_row(comment, "| |") == ["", r"`red\|dry`", "`<b>sweet</b>`", "`two lines`"]
    assert table_row(comment, r"| `red\|dry`") == [r"`red\|dry`", "5", "1", "0"]
    assert table_row(comment, "| `<b>") == ["`<b>sweet</b>`", "2", "7", "0"]
    assert table_row(comment, "| `features.") == [
        "`features.taste.values`", r'`["red\|dry", "<b>sweet</b>"]`', r'`["red\|dry"]`']


def test_data_quoted_in_gate_reasons_and_labels_cannot_add_markdown_or_html() -> None:
    """A feature or class named by the PR's data: no fake heading, image, link, emphasis or mention markup."""
    comparison = comparison_of()
    comparison["reasons"] = ["cannot compare: the feature set changed (x\n\n## ✅ Promote <img src=https://e.example/p>"
                             " [link](https://e.example) **bold** `code`)"]
    comment = render(comparison, {"labels": ["**bold** [x](http://evil)", "ok"], "matrix": [[1, 0], [0, 1]]})

    reason = next(line for line in comment.splitlines() if line.startswith("- cannot compare"))
    assert reason == (r"- cannot compare: the feature set changed (x ## ✅ Promote &lt;img src=https:" + WJ
                      + r"//e.example/p&gt; \[link\](https:" + WJ + r"//e.example) \*\*bold\*\* \`code\`)")
    assert not [line for line in comment.splitlines() if line.startswith("## ✅ Promote <")] and "<img" not in comment
    assert table_row(comment, "| |")[1] == "`**bold** [x](http://evil)`"
    assert markdown_problem(comment) is None


def test_mentions_references_and_links_in_quoted_data_are_inert_as_pr_comment_yml_requires() -> None:
    from ml.report import render_invalid_data_report

    hostile = "@org/team and a@b.example: see #12, GH-3, www.e.example and http://e.example"
    comparison = comparison_of()
    comparison["reasons"] = [f"cannot compare: the feature {hostile} is new"]
    assert markdown_problem(render(comparison)) is None
    validation = {"ok": False, "data": f"data/{hostile}`.csv", "target": "y", "rows": 10, "error": None, "failures": [
        {"column": hostile, "check": hostile, "count": 2, "examples": [hostile]}]}
    report = render_invalid_data_report(validation, None)
    assert markdown_problem(report) is None
    assert f"@{WJ}org/team and a@{WJ}b.example: see #{WJ}12, GH{WJ}-3, www{WJ}.e.example and http:{WJ}//e" in report


def test_markdown_in_invalid_values_is_shown_as_text_so_the_comment_is_posted(workspace: Workspace) -> None:
    """Bad values the data really has, quoted by validation: a link in a table cell would get the comment refused."""
    from ml.errors import DataError

    ws = workspace
    frame = pd.read_csv(ws.data)
    frame.loc[:2, "contract"] = ["[docs](https://e.example)", "![logo](logo.png)", "**big** _x_"]
    frame.to_csv(ws.data, index=False)
    with pytest.raises(DataError, match="contract"):
        validate_step(params_of(ws), ws.reports)
    comment, _ = write_pr_reports(ws.reports)
    comment = comment.read_text()

    assert markdown_problem(comment) is None
    examples = table_row(comment, "| `contract`")[3]
    assert r"'\[docs\](https:" + WJ + r"//e.example)'" in examples and r"'!\[logo\](logo.png)'" in examples
    assert r"'\*\*big\*\* \_x\_'" in examples


def test_a_line_break_in_a_quoted_path_or_target_cannot_end_its_code_span() -> None:
    """A blank line ends a code span: what follows it would be live markdown."""
    from ml.report import render_invalid_data_report

    validation = {"ok": False, "data": "data/x\n\n@org/team.csv", "target": "y\r\n\r\n[x](https://e.example)",
                  "rows": 0, "failures": [], "error": "no rows"}
    report = render_invalid_data_report(validation, None)
    assert markdown_problem(report) is None
    assert "`data/x @org/team.csv`" in report
    assert "--target 'y [x](https://e.example)' --write`" in report


def test_pipes_and_html_in_invalid_data_cells_are_escaped() -> None:
    from ml.report import render_invalid_data_report

    validation = {"ok": False, "data": "data/x.csv", "target": "y", "rows": 10, "failures": [
        {"column": "a|b", "check": "not in {'<i>x</i>', 'y|z'}", "count": 2, "examples": ["'p|q'", "'<b>r</b>'"]}]}
    report = render_invalid_data_report(validation, None)
    assert "<b>" not in report and "<i>" not in report
    assert table_row(report, "| `a") == [r"`a\|b`", r"not in {'&lt;i&gt;x&lt;/i&gt;', 'y\|z'}", "2",
                                         r"'p\|q', '&lt;b&gt;r&lt;/b&gt;'"]


def test_the_invalid_data_report_quotes_its_error_and_its_fix_command() -> None:
    from ml.report import render_invalid_data_report

    validation = {"ok": False, "data": "data/my data.csv", "target": "churn `flag`", "rows": 0, "failures": [],
                  "error": "target 'y' has a single class ('<img src=x>\n# big [link](http://e)'); nothing to learn"}
    report = render_invalid_data_report(validation, None)
    assert (r"target 'y' has a single class ('&lt;img src=x&gt; # big \[link\](http:" + WJ + "//e)'); nothing to learn"
            in report.splitlines())
    assert "``python scripts/draft_params.py 'data/my data.csv' --target 'churn `flag`' --write``" in report


def test_model_card_features_with_pipes_and_html_stay_inside_their_cells() -> None:
    from ml.report import render_model_card

    metadata = {"version": 2, "task": "classification", "target": "y|n", "model_class": "M", "trained_at": "t",
                "training_rows": 10, "fit_seconds": 1.0, "git_commit": None, "data_sha256": "d", "artifact_sha256": "a",
                "promoted_at": "p", "pull_request": None, "forced": False, "metrics": {}, "gate_reasons": [],
                "library_versions": {},
                "features": [{"name": "taste|x", "type": "category", "values": ["red|dry", "<b>sweet</b>"]}]}
    card = render_model_card(metadata, "m")
    assert "<b>" not in card
    assert table_row(card, "| `taste") == [r"`taste\|x`", "category", r"red\|dry, &lt;b&gt;sweet&lt;/b&gt;"]
    assert table_row(card, "| Task") == ["Task", r"classification of `y\|n`"]


def test_a_promotion_within_noise_is_not_headlined_as_beating_the_champion() -> None:
    within_noise = comparison_of(roc_auc=metric(0.800, 0.802, -0.004, 0.008))
    assert "## ✅ Promote: the challenger improves on champion v1 (within noise)\n" in render(within_noise)
    assert "## ✅ Promote: the challenger beats champion v1\n" in render(comparison_of())


def test_the_significant_column_says_which_way_by_the_metrics_direction() -> None:
    comment = render(comparison_of(roc_auc=metric(0.80, 0.85, 0.03, 0.07),
                                   recall=metric(0.50, 0.45, -0.08, -0.02),
                                   log_loss=metric(0.45, 0.40, -0.07, -0.03, "minimize"),
                                   brier=metric(0.20, 0.25, 0.02, 0.08, "minimize"),
                                   f1=metric(0.60, 0.61, -0.01, 0.03)))
    significance = {name: table_row(comment, f"| {name} ")[5] for name in ("recall", "log_loss", "brier", "f1")}
    assert significance == {"recall": "worse", "log_loss": "better", "brier": "worse", "f1": "no"}
    assert table_row(comment, "| **roc_auc**")[5] == "better"


def test_small_deltas_and_ci_bounds_keep_three_significant_figures() -> None:
    comment = render(comparison_of(roc_auc=metric(0.80, 0.80012, 0.00003, 0.00021)))
    assert table_row(comment, "| **roc_auc**")[3:5] == ["+0.00012", "[+3e-05, +0.00021]"]


def test_errors_in_the_millions_read_as_four_significant_figures() -> None:
    comparison = comparison_of(rmse=metric(2.5e99, 1.25e99, -1.5e99, -1e99, "minimize"),
                               mae=metric(123456.25, 999999.5, 0.0, 1.0, "minimize"))
    comparison["primary_metric"] = "rmse"
    comment = render(comparison)
    assert table_row(comment, "| **rmse**")[1:3] == ["2.5e+99", "1.25e+99"]
    assert table_row(comment, "| mae")[1:3] == ["123456.2500", "999999.5000"]


def test_without_a_champion_the_chart_and_holdout_do_not_mention_one() -> None:
    comment = render(comparison_of(champion=False))
    assert 'title "Challenger (higher is better)"' in comment and "<sub>Line: challenger.</sub>" in comment
    assert "champion and challenger" not in comment.lower() and "Bars: champion" not in comment
    with_champion = render(comparison_of())
    assert 'title "Champion vs challenger (higher is better)"' in with_champion
    assert "<sub>Bars: champion; line: challenger.</sub>" in with_champion
    assert "(champion and challenger scored on the same rows)" in with_champion


def test_the_chart_leaves_out_a_metric_whose_champion_value_is_off_the_0_to_1_axis() -> None:
    comment = render(comparison_of(roc_auc=metric(0.80, 0.85, 0.03, 0.07), r2=metric(-0.3, 0.5, 0.6, 1.0)))
    assert 'x-axis ["roc_auc"]' in comment and "bar [0.8000]" in comment


def test_params_diff_shows_yaml_values_and_absent_keys() -> None:
    comparison = comparison_of()
    comparison["params_diff"] = [{"key": "a", "champion": True, "challenger": None},
                                 {"key": "b", "challenger": ["x", 1]}, {"key": "c", "champion": "s"}]
    comment = render(comparison)
    assert table_row(comment, "| `a`") == ["`a`", "`true`", "`null`"]
    assert table_row(comment, "| `b`") == ["`b`", "(absent)", '`["x", 1]`']
    assert table_row(comment, "| `c`") == ["`c`", '`"s"`', "(absent)"]


def test_a_huge_report_fits_githubs_limit_and_keeps_its_footer() -> None:
    from ml.github.markers import MAX_BODY, with_marker

    comparison = comparison_of()
    comparison["params_diff"] = [{"key": f"model.params.p{i}", "champion": i, "challenger": i + 1}
                                 for i in range(5000)]
    labels = [f"class-{i}" for i in range(200)]
    matrix = [[(i * 7 + j * 3) % 11 for j in range(200)] for i in range(200)]
    comment = with_marker(render(comparison, {"labels": labels, "matrix": matrix}), MARKER)

    assert len(comment) < MAX_BODY and "truncated" not in comment
    assert comment.rstrip().endswith("paired bootstrap resamples</sub>")
    assert comment.count("<details>") == comment.count("</details>") == 1
    assert "…4950 more in the workflow artifacts" in comment
    largest = max((matrix[i][j], -i, -j) for i in range(200) for j in range(200) if i != j)
    assert table_row(comment, f"| `class-{-largest[1]}` | `class-{-largest[2]}` |")[2] == str(largest[0])
    assert sum(line.startswith("| `class-") for line in comment.splitlines()) == 20


# Every character of it is escaped, defused or lengthens a code span's fence: the most markdown per character.
ESCAPED = "&<|`@a#1*" * 40


def test_a_report_whose_every_value_is_long_and_escaped_fits_the_limit_pr_comment_yml_enforces() -> None:
    """check_artifact.py refuses a comment over MAX_COMMENT_CHARS: the PR would get none at all."""
    from ml.pr_artifact import MAX_COMMENT_CHARS
    from ml.report import MAX_CLASSES, MAX_PROSE, render_invalid_data_report, render_pr_report

    comparison = comparison_of()
    labels = ", ".join(repr(f"class {i}") for i in range(5000))  # a classifier of many classes, relabelled
    comparison["reasons"] = [f"cannot compare: the class labels changed since the champion was trained (only the "
                             f"champion has {labels}; only the data has {labels}). A human must decide.", ESCAPED]
    comparison["params_diff"] = [{"key": f"{ESCAPED}{i}", "champion": ESCAPED, "challenger": [ESCAPED]}
                                 for i in range(100)]
    confusion = {"labels": [f"{ESCAPED}{i}" for i in range(MAX_CLASSES)],
                 "matrix": [[10**6] * MAX_CLASSES] * MAX_CLASSES}
    comment = render_pr_report(comparison, {**VALID, "data": ESCAPED}, {"confusion_matrix": confusion}, "0" * 40)
    invalid = render_invalid_data_report({"ok": False, "data": "data/x.csv", "target": "y", "rows": 10, "failures": [
        {"column": f"{ESCAPED}{i}", "check": ESCAPED, "count": i, "examples": [repr(ESCAPED)] * 5} for i in range(100)],
        "error": None}, None)

    assert len(comment) <= MAX_COMMENT_CHARS and markdown_problem(comment) is None
    assert len(invalid) <= MAX_COMMENT_CHARS and markdown_problem(invalid) is None
    reason = next(line for line in comment.splitlines() if line.startswith("- cannot compare"))
    assert len(reason) <= MAX_PROSE + 2 and reason.endswith("…") and "'class 99'" in reason


def trailing_whitespace(text: str) -> list[str]:
    return [line for line in text.splitlines() if line != line.rstrip()]


@pytest.mark.parametrize("run", ["second_round", "regression_round"])
def test_no_rendered_line_ends_with_whitespace(run, request) -> None:
    """Trailing spaces are a hard line break in markdown, and a diff of the committed reports full of noise."""
    ws, comment, summary, _ = request.getfixturevalue(run)
    validation_md = (ws.reports / "validation.md").read_text()
    invalid = {"ok": False, "data": "data/x.csv", "target": "y", "rows": 10, "failures": [
        {"column": "a", "check": "is missing from the data", "count": 0, "examples": []}]}
    from ml.report import render_invalid_data_report, render_validation

    rendered = {"comment": comment, "summary": summary, "validation.md": validation_md,
                "invalid comment": render_invalid_data_report(invalid, None),
                "invalid summary": render_invalid_data_report(invalid, None, sticky=False),
                "invalid validation.md": render_validation(invalid)}
    assert {name: trailing_whitespace(text) for name, text in rendered.items()} == dict.fromkeys(rendered, [])


def test_many_classes_render_without_trailing_whitespace() -> None:
    labels = [f"class-{i}" for i in range(30)]
    comment = render(comparison_of(), {"labels": labels, "matrix": [[i + j for j in range(30)] for i in range(30)]})
    assert "largest confusions" in comment and trailing_whitespace(comment) == []


def invalid_report(failures: int) -> dict:
    """A validation.json of many failing columns, each with a long name and long examples; row counts vary."""
    return {"ok": False, "data": "data/x.csv", "target": "y", "rows": 10_000, "failures": [
        {"column": f"column_{i}_" + "x" * 300, "check": "must be one of the allowed values " + "v" * 200,
         "count": (i * 37) % 1000, "examples": [repr("e" * 200 + str(j)) for j in range(5)]}
        for i in range(failures)]}


def test_a_huge_invalid_data_report_shows_the_worst_failures_and_fits_githubs_limit() -> None:
    from ml.github.markers import MAX_BODY, with_marker
    from ml.report import MAX_FAILURES, render_invalid_data_report

    validation = invalid_report(2000)
    comment = render_invalid_data_report(validation, "0" * 40)

    assert len(comment) < MAX_BODY and with_marker(comment, MARKER) == comment
    assert comment.startswith(MARKER + "\n") and comment.rstrip().endswith("<sub>Commit `000000000000`</sub>")
    rows = [cells(line) for line in comment.splitlines() if line.startswith("| `column_")]
    assert len(rows) == MAX_FAILURES
    counts = [int(row[2] or 0) for row in rows]
    column_level = sum(f["count"] == 0 for f in validation["failures"])
    assert counts[:column_level] == [0] * column_level  # a missing or unknown column breaks every row: first
    assert counts[column_level:] == sorted(counts[column_level:], reverse=True)
    assert counts[column_level] == max(f["count"] for f in validation["failures"])
    assert (f"…{2000 - MAX_FAILURES} more failures not shown; reports/validation.json (also in the workflow "
            "artifacts) has all 2000.") in comment
    assert len(validation["failures"]) == 2000


def test_a_small_invalid_data_report_shows_every_failure_in_order() -> None:
    from ml.report import render_validation

    validation = invalid_report(3)
    report = render_validation(validation)
    rows = [cells(line) for line in report.splitlines() if line.startswith("| `column_")]
    assert [row[2] for row in rows] == ["", "74", "37"]  # the column-level failure first, then the most rows
    assert "more failures" not in report


def test_the_model_card_compares_with_the_champion_it_replaced(with_champion: Workspace) -> None:
    from ml.bundle import read_metadata
    from ml.promote import promote
    from ml.registry.github import release_body
    from ml.registry.local import LocalRegistry

    ws = with_champion
    ws.edit_params(lambda raw: raw["model"]["params"].update(learning_rate=0.05))
    train_in_process(ws)
    comparison = compare_step(params_of(ws), ws.model, ws.reports / "comparison.json")
    promote(ws.model, comparison, LocalRegistry(ws.registry), force=True, name="test-model")
    metadata = read_metadata(ws.registry / "v2")
    card = (ws.registry / "v2" / "model_card.md").read_text()

    assert metadata["metrics"] == {name: m["challenger"] for name, m in comparison["metrics"].items()}
    assert metadata["comparison"]["metrics"] == comparison["metrics"]
    assert metadata["comparison"]["champion"]["version"] == 1
    assert "beside champion v1, which this version replaced" in card and "95% paired bootstrap CI" in card
    m = comparison["metrics"]["roc_auc"]
    assert table_row(card, "| roc_auc |") == [
        "roc_auc", f"{m['challenger']:.4f}", "↑ (primary)", f"{m['champion']:.4f}", f"{m['delta']:+.3g}",
        f"[{m['ci_low']:+.3g}, {m['ci_high']:+.3g}]"]
    assert table_row(card, "| log_loss |")[2] == "↓"
    data = metadata["params"]["data"]["path"]
    assert table_row(card, "| Data |")[1] == f"`{data}`, sha256 `{metadata['data_sha256']}`"
    assert table_row(card, "| Rows |")[1].startswith(
        f"{metadata['training_rows']} training, {comparison['holdout']['rows']} holdout")
    assert card.count("_TODO (owner):") == 3
    assert "## Metrics" not in release_body(metadata, card)  # the card shows every metric already


def test_a_relative_guardrail_is_reported_as_written_in_the_comment_and_the_model_card(with_champion) -> None:
    """params.yaml's unquoted `log_loss: 10%` reaches the PR comment and the card as "10% of <champion>"."""
    from ml.bundle import read_metadata
    from ml.promote import promote
    from ml.registry.local import LocalRegistry

    ws = with_champion
    ws.edit_params(lambda raw: raw["model"]["params"].update(learning_rate=0.05))
    text = ws.params_file.read_text()
    ws.params_file.write_text(text.replace("log_loss: 0.02\n", "log_loss: 10%\n"))
    assert ws.params["metrics"]["guardrails"] == {"log_loss": "10%", "recall": 0.03}
    train_in_process(ws)
    comment, _, comparison = run_steps(ws)
    champion = comparison["metrics"]["log_loss"]["champion"]
    tolerance = f"10% of {champion:.4f} = {champion / 10:.4f}"
    reason = next(reason for reason in comparison["reasons"] if "guardrail log_loss" in reason)
    assert f"tolerance {tolerance}" in reason, reason
    assert f"- {reason}\n" in comment, reason
    assert "| `metrics.guardrails.log_loss` | `0.02` | `\"10%\"` |" in comment
    promote(ws.model, comparison, LocalRegistry(ws.registry), force=True, name="test-model")
    card = (ws.registry / "v2" / "model_card.md").read_text()
    assert read_metadata(ws.registry / "v2")["gate_reasons"] == comparison["reasons"]
    assert f"- {reason}\n" in card
