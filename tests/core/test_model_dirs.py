"""Model directories the steps are pointed at: a champion directory that does not exist, a challenger trained
before params.yaml or the data changed. One line each, and no report of an earlier run left behind."""

from __future__ import annotations

import pytest

from tests.conftest import Workspace, assert_one_line_error, run_scripts
from tests.core.conftest import drop_feature, relabel_target

REPORTS = ("validation.json", "validation.md", "metrics.json", "comparison.json", "pr_comment.md", "job_summary.md")


@pytest.mark.parametrize("champion", ["no/such/dir", "params.yaml"])  # missing, or a file
def test_a_missing_champion_dir_is_one_line_and_removes_the_last_reports(with_champion: Workspace,
                                                                         champion: str) -> None:
    ws = with_champion
    for name in REPORTS:
        (ws.reports / name).write_text("{}")  # the last run's reports

    compare, pipeline = run_scripts([(script, ["--champion-dir", champion], ws.root)
                                     for script in ("compare.py", "run_pipeline.py")])

    for run in (compare, pipeline):
        assert_one_line_error(run, f"{champion}: no such champion directory (--champion-dir)")
    assert not any(ws.reports.iterdir())


@pytest.mark.parametrize("change, says", [
    (lambda ws: drop_feature(ws, "region"), "the feature set changed since the model was trained (region)"),
    (relabel_target, "the class labels changed since the model was trained (only the model has 0, 1; "
               "only the data has 'no', 'yes')"),
])
def test_a_challenger_trained_before_the_change_is_to_be_retrained(with_model: Workspace, change, says) -> None:
    """Checked against params.yaml and the data as the champion is, but the challenger is simply retrained."""
    ws = with_model
    change(ws)

    runs = run_scripts([(script, [], ws.root) for script in ("evaluate.py", "compare.py")])

    for run in runs:
        assert_one_line_error(run, f"artifacts/model: {says}; retrain it (scripts/train.py)")
    assert not (ws.reports / "metrics.json").exists() and not (ws.reports / "comparison.json").exists()


def test_a_model_or_fetch_directory_that_is_not_a_bundle_is_never_deleted(with_champion: Workspace) -> None:
    """--model-dir . or --dest ~ would otherwise take the project, or a home directory, with it."""
    ws = with_champion
    keep = ws.root / "notes"
    keep.mkdir()
    (keep / "thesis.txt").write_text("months of work")
    runs = run_scripts([("train.py", ["--model-dir", "notes"], ws.root),
                        ("fetch_model.py", ["--dest", "notes"], ws.root)])
    for run in runs:
        assert_one_line_error(run, "notes: holds 'thesis.txt'", "refusing to replace it")
    assert (keep / "thesis.txt").read_text() == "months of work"
    assert_one_line_error(ws.run("run_pipeline.py", "--model-dir", "."), "which no model bundle does")
    assert (ws.root / "params.yaml").is_file()
