"""retrain.yml's refresh_data step: new training data is validated, then recorded in data.dvc."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest

from ml.data_refresh import replace_data
from ml.dvc_data import is_current
from ml.errors import DataError
from ml.params import load_params


@pytest.fixture
def dvc_workspace(workspace, monkeypatch):
    """The workspace as a git + DVC repository, and the cwd (params.yaml paths resolve against the cwd)."""
    root = workspace.root
    monkeypatch.chdir(root)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    from dvc.repo import Repo

    Repo.init(str(root)).close()
    with Repo(str(root)) as repo:
        repo.add(str(root / "data"))
    return workspace


def test_new_data_replaces_the_old_and_updates_data_dvc(dvc_workspace, tmp_path):
    params = load_params(dvc_workspace.params_file)
    assert params.root == dvc_workspace.root
    before = (dvc_workspace.root / "data.dvc").read_text()
    new = tmp_path / "new.csv"
    pd.read_csv(params.data_path).head(500).to_csv(new, index=False)

    assert replace_data(params, new) is True
    assert (dvc_workspace.root / "data.dvc").read_text() != before
    assert len(pd.read_csv(params.data_path)) == 500
    assert is_current(params.root)


def test_invalid_new_data_changes_nothing(dvc_workspace, tmp_path):
    params = load_params(dvc_workspace.params_file)
    assert params.root == dvc_workspace.root
    before = (dvc_workspace.root / "data.dvc").read_text(), params.data_path.read_bytes()
    new = tmp_path / "new.csv"
    frame = pd.read_csv(params.data_path).head(50)
    frame["tenure_months"] = -5
    frame.to_csv(new, index=False)

    with pytest.raises(DataError, match="does not fit params.yaml"):
        replace_data(params, new)
    assert ((dvc_workspace.root / "data.dvc").read_text(), params.data_path.read_bytes()) == before
