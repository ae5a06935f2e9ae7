"""A corpus of bad data files, each run through the real validate_data.py and train.py.

Every kind must give: a non-zero exit, one 'Error:' line naming the column (or the file), no traceback,
validation.json saying not ok, no model directory, and none of the previous run's outputs left looking current.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import Workspace, assert_one_line_error, run_scripts


@dataclass(frozen=True)
class BadData:
    name: str
    make: Callable[[Path], None]  # turns the good CSV at this path into the bad one (params.yaml's data path)
    column: str | None  # the column the error must name; None for file-level problems
    says: str  # what the error must say about it
    params: Callable[[dict], None] | None = None  # changes params.yaml first (a feature without a max, say)


def _frame_edit(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        edit(pd.read_csv(path)).to_csv(path, index=False)

    return make


def _cell(column: str, value, row: int = 7) -> Callable[[Path], None]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return _frame_edit(edit)


def _parquet_cell(column: str, value: float) -> Callable[[Path], None]:
    """The good CSV (next to path) as the parquet file at path, with one value changed."""
    def make(path: Path) -> None:
        frame = pd.read_csv(path.with_suffix(".csv"))
        frame.loc[7, column] = value
        frame.to_parquet(path)

    return make


def _parquet(raw: dict) -> None:
    raw["data"]["path"] = "data/churn.parquet"


def _unbounded(column: str, data: Callable[[dict], None] | None = None) -> Callable[[dict], None]:
    """params.yaml without the column's min and max (and reading other data, when given)."""
    def change(raw: dict) -> None:
        for bound in ("min", "max"):
            raw["features"][column].pop(bound, None)
        if data:
            data(raw)

    return change


def _regression(raw: dict) -> None:
    """params.yaml predicting monthly_charges (a feature no more) from the others, churned among them."""
    raw.update(task="regression", target="monthly_charges")
    raw["features"] = {**{k: v for k, v in raw["features"].items() if k != "monthly_charges"},
                       "churned": {"type": "int", "min": 0, "max": 1}}
    raw["model"] = {"class": "sklearn.linear_model.Ridge", "params": {}}
    raw["metrics"] = {"primary": {"name": "rmse", "direction": "minimize"}, "guardrails": {}}


def _text(content: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(content(path.read_bytes()) if callable(content) else content)

    return make


def _first_row_too_long(good: bytes) -> bytes:
    header, rest = good.split(b"\n", 1)
    return header + b"\n" + b",".join([b"1"] * (header.count(b",") + 3)) + b"\n" + rest


CORPUS = [
    BadData("missing file", os.remove, None, "data file not found"),
    BadData("empty file", _text(b""), None, "data file is empty"),
    BadData("header only", _text(lambda good: good.split(b"\n", 1)[0] + b"\n"), None, "header but no rows"),
    BadData("binary garbage", _text(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))),
            None, "cannot be parsed as csv"),
    BadData("ragged first row", _text(_first_row_too_long), None, "more fields than the header"),
    BadData("missing target", _frame_edit(lambda f: f.drop(columns="churned")), "churned", "is missing"),
    BadData("fractional class labels", _frame_edit(lambda f: f.assign(churned=f["churned"].astype(float) + 0.5)),
            "churned", "must be class labels"),
    BadData("missing feature column", _frame_edit(lambda f: f.drop(columns="region")), "region", "is missing"),
    BadData("unknown column", _frame_edit(lambda f: f.assign(customer_email="x@example.com")), "customer_email",
            "unknown column"),
    BadData("a repeated column", _text(lambda good: good.replace(b"\n", b",x\n", 1).replace(
        b",x\n", b"," + good.split(b",", 1)[0] + b"\n", 1)), None, "appears 2 times in the header"),
    BadData("text in a numeric column", _cell("tenure_months", "twelve"), "tenure_months", "must be a number"),
    BadData("value above max", _cell("monthly_charges", 999.5), "monthly_charges", "must be <= 150"),
    BadData("fraction in an int column", _cell("tenure_months", 12.5), "tenure_months", "whole number"),
    BadData("unknown category", _cell("contract", "weekly"), "contract", "allowed values"),
    BadData("null in a non-nullable column", _cell("payment_method", None), "payment_method", "not nullable"),
    BadData("infinity", _cell("total_charges", "inf"), "total_charges", "must be finite"),
    # Non-finite and huge numbers in columns without a declared max: nothing but the data schema's own limits
    # stands between them and the scaler, whose variance overflowed (and the fit blamed model.params).
    BadData("-Infinity where no min is declared", _cell("monthly_charges", "-Infinity"), "monthly_charges",
            "must be finite", _unbounded("monthly_charges")),
    BadData("1e400, which overflows to infinity", _cell("monthly_charges", "1e400"), "monthly_charges",
            "must be finite", _unbounded("monthly_charges")),
    BadData("a huge number where no max is declared", _cell("monthly_charges", "1e308"), "monthly_charges",
            "within ±1e+100", _unbounded("monthly_charges")),
    BadData("a huge negative number in parquet", _parquet_cell("monthly_charges", -1e308), "monthly_charges",
            "within ±1e+100", _unbounded("monthly_charges", _parquet)),
    BadData("an integer float64 cannot hold exactly", _cell("tenure_months", "99999999999999999999999"),
            "tenure_months", "within ±9007199254740991", _unbounded("tenure_months")),
    # Only an empty field is missing: NaN spelt out is not a number, so not a missing value either.
    BadData("NaN text in a number column", _cell("monthly_charges", "NaN"), "monthly_charges", "must be a number"),
    BadData("NaN in a parquet column that is not nullable", _parquet_cell("monthly_charges", np.nan),
            "monthly_charges", "not nullable", _parquet),
    BadData("an infinite regression target", _cell("monthly_charges", "inf"), "monthly_charges",
            "must be a finite number", _regression),
    BadData("a huge regression target", _cell("monthly_charges", "-1e200"), "monthly_charges",
            "within ±1e+100", _regression),
    BadData("bad boolean", _cell("senior_citizen", "maybe"), "senior_citizen", "true/false"),
    BadData("a number in a 0/1 boolean column", _frame_edit(lambda f: f.assign(
        senior_citizen=f["senior_citizen"].astype(int).where(f.index != 7, 7))), "senior_citizen", "true/false"),
    # Nullable, but missing in every row: nothing to learn from (scikit-learn would drop it with a warning).
    BadData("nullable column without values", _frame_edit(lambda f: f.assign(avg_daily_usage_gb=np.nan)),
            "avg_daily_usage_gb", "has no values at all"),
]


def _leave_previous_outputs(ws: Workspace) -> None:
    """What a previous, successful run left: all of it must be gone or say 'not ok' after a failed rerun."""
    ws.reports.mkdir(parents=True, exist_ok=True)
    (ws.reports / "validation.json").write_text(json.dumps({"ok": True, "rows": 3000, "failures": []}))
    (ws.reports / "validation.md").write_text("✅ **Data valid**: 3000 rows\n")
    ws.model.mkdir(parents=True)
    (ws.model / "model.joblib").write_bytes(b"an older model")
    (ws.model / "metadata.json").write_text("{}")


@pytest.mark.parametrize("bad", CORPUS, ids=[case.name for case in CORPUS])
def test_bad_data_is_rejected_by_validate_and_train(workspace: Workspace, bad: BadData) -> None:
    ws = workspace
    _leave_previous_outputs(ws)
    if bad.params:
        ws.edit_params(bad.params)
    bad.make(ws.data)

    validate, train = run_scripts([("validate_data.py", [], ws.root), ("train.py", [], ws.root)])

    needles = (f"'{bad.column}'", bad.says) if bad.column else (str(ws.data.name), bad.says)
    assert_one_line_error(validate, *needles)
    assert_one_line_error(train, *needles)

    report = json.loads((ws.reports / "validation.json").read_text())
    assert report["ok"] is False
    if bad.column:
        named = [f for f in report["failures"] if f["column"] == bad.column]
        assert named and any(bad.says in f["check"] for f in named), report
    else:
        assert bad.says in report["error"]
    summary = (ws.reports / "validation.md").read_text()
    assert "Data invalid" in summary
    assert (f"`{bad.column}`" if bad.column else bad.says) in summary

    assert not ws.model.exists(), "a failed train.py left a model directory behind"
    assert not [p.name for p in ws.model.parent.iterdir()], "train.py left staging directories behind"


def test_row_level_failures_report_counts_and_examples(workspace: Workspace) -> None:
    ws = workspace
    frame = pd.read_csv(ws.data)
    frame["contract"] = frame["contract"].astype(object)
    frame.loc[[3, 10, 11], "contract"] = ["weekly", "daily", "weekly"]
    frame.loc[[4, 5], "monthly_charges"] = [-5.0, 400.0]
    frame.to_csv(ws.data, index=False)

    assert_one_line_error(ws.run("validate_data.py"), "'contract'", "'monthly_charges'")

    report = json.loads((ws.reports / "validation.json").read_text())
    failures = {(f["column"], f["check"]): f for f in report["failures"]}
    contract = failures[("contract", "must be one of the allowed values")]
    assert contract["count"] == 3
    assert set(contract["examples"]) == {"'weekly'", "'daily'"}
    assert failures[("monthly_charges", "must be >= 10")]["count"] == 1
    assert failures[("monthly_charges", "must be <= 150")]["count"] == 1
    assert report["rows"] == len(frame)


def test_valid_data_reports_rows_and_hash(workspace: Workspace) -> None:
    from ml.fileio import sha256_file

    ws = workspace
    run = ws.run("validate_data.py")
    assert run.returncode == 0, run.describe()
    report = json.loads((ws.reports / "validation.json").read_text())
    assert report["ok"] is True
    assert report["failures"] == []
    assert report["rows"] == len(pd.read_csv(ws.data))
    assert report["data_sha256"] == sha256_file(ws.data)
    assert report["data_sha256"][:12] in (ws.reports / "validation.md").read_text()


def test_failed_reruns_leave_no_stale_metrics_comparison_or_report(with_model: Workspace) -> None:
    """evaluate.py, compare.py and render_report.py delete their previous outputs before they can fail."""
    ws = with_model
    ws.reports.mkdir()
    stale = {name: ws.reports / name for name in ("metrics.json", "comparison.json", "pr_comment.md",
                                                  "job_summary.md")}
    for path in stale.values():
        path.write_text('{"decision": "promote"}')
    _cell("internet_service", "satellite")(ws.data)

    evaluate, compare = run_scripts([("evaluate.py", [], ws.root), ("compare.py", [], ws.root)])
    render = ws.run("render_report.py")

    assert_one_line_error(evaluate, "'internet_service'")
    assert_one_line_error(compare, "'internet_service'")
    assert_one_line_error(render, "not found")
    assert [name for name, path in stale.items() if path.exists()] == []


def test_validation_json_keeps_every_failure_that_the_summary_table_leaves_out(workspace: Workspace) -> None:
    from ml.errors import DataError
    from ml.report import MAX_FAILURES
    from ml.steps import validate_step
    from ml.validation import MAX_IN_LINE
    from tests.core.conftest import params_of

    ws = workspace
    extra = MAX_FAILURES + 10
    frame = pd.read_csv(ws.data).assign(**{f"extra_{i}": 1 for i in range(extra)})
    frame["contract"] = frame["contract"].astype(object)
    frame.loc[[3, 4], "contract"] = "weekly"
    frame.to_csv(ws.data, index=False)

    with pytest.raises(DataError, match="extra_0") as error:
        validate_step(params_of(ws), ws.reports)
    assert str(error.value).endswith(f"; … {extra + 1 - MAX_IN_LINE} more in the report")  # one readable line
    assert "extra_9'" in str(error.value) and "extra_10'" not in str(error.value)

    failures = json.loads((ws.reports / "validation.json").read_text())["failures"]
    assert len(failures) == extra + 1
    summary = (ws.reports / "validation.md").read_text()
    assert sum(line.startswith("| `") for line in summary.splitlines()) == MAX_FAILURES
    assert f"…{extra + 1 - MAX_FAILURES} more failures not shown" in summary
    assert f"has all {extra + 1}." in summary


def test_a_column_named_with_a_line_break_is_still_one_line(workspace: Workspace) -> None:
    """Error lines quote data (column names, class labels): a newline in one must not split the line."""
    _frame_edit(lambda f: f.assign(**{"new\ncol": 1}))(workspace.data)
    assert_one_line_error(workspace.run("validate_data.py"), "column 'new col'", "unknown column")
