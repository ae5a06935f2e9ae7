"""data.exclude: identifiers and timestamps stay in the file, out of validation, the model and the split."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from ml.dataset import load_dataset
from ml.errors import DataError
from ml.steps import validate_step
from tests.conftest import REPO, Workspace, assert_ok, run_script
from tests.core.conftest import params_of, train_in_process


def with_bookkeeping_columns(ws: Workspace) -> None:
    frame = pd.read_csv(ws.data)
    frame.insert(0, "customer_id", [f"C{i:06d}" for i in range(len(frame))])
    frame["signup_date"] = pd.date_range("2020-01-01", periods=len(frame), freq="h").strftime("%Y-%m-%d %H:%M")
    frame.to_csv(ws.data, index=False)


def test_a_column_neither_target_nor_feature_is_refused_until_it_is_excluded(workspace: Workspace) -> None:
    ws = workspace
    plain = load_dataset(params_of(ws))
    with_bookkeeping_columns(ws)
    with pytest.raises(DataError, match="customer_id"):
        validate_step(params_of(ws), ws.reports)

    ws.edit_params(lambda raw: raw["data"].update(exclude=["customer_id", "signup_date", "not_in_this_file"]))
    validate_step(params_of(ws), ws.reports)
    excluded = load_dataset(params_of(ws))
    train_in_process(ws)

    assert json.loads((ws.reports / "validation.json").read_text())["ok"] is True
    assert list(excluded.X_train.columns) == params_of(ws).feature_names
    assert excluded.holdout_fingerprint == plain.holdout_fingerprint  # an ID does not move a row to the other side
    metadata = json.loads((ws.model / "metadata.json").read_text())
    assert "customer_id" not in {f["name"] for f in metadata["features"]}


def test_the_draft_leaves_out_the_columns_params_yaml_excludes(tmp_path, sample_csv) -> None:
    root = tmp_path / "fork"
    (root / "data").mkdir(parents=True)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"]["exclude"] = ["customer_id"]
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    frame = pd.read_csv(sample_csv)
    frame.insert(0, "customer_id", range(len(frame)))
    frame.to_csv(root / "data" / "mine.csv", index=False)

    drafted = yaml.safe_load(assert_ok(run_script("draft_params.py", "data/mine.csv", "--target", "churned",
                                                  cwd=root)).stdout)

    assert "customer_id" not in drafted["features"] and drafted["data"]["exclude"] == ["customer_id"]
    assert list(drafted["features"]) == list(raw["features"])
