"""retrain.yml's refresh_data step: new training data is validated, recorded in data.dvc and pushed, or nothing
changes."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from ml.data_refresh import replace_data
from ml.dvc_data import is_current
from ml.errors import DataError
from ml.params import load_params

SOURCE = "https://example.test/new.csv"


def _set_remote(root: Path, url: Path | None) -> None:
    """`dvc remote add -d store URL`, or `dvc remote remove store` for None."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo, repo.config.edit() as config:
        if url is None:
            config["remote"].pop("store", None)
            config["core"].pop("remote", None)
        else:
            config["remote"]["store"] = {"url": str(url)}
            config["core"]["remote"] = "store"


@pytest.fixture
def dvc_workspace(workspace, monkeypatch, tmp_path):
    """The workspace as a git + DVC repository with a local-directory remote, and the cwd (params.yaml paths
    resolve against the cwd)."""
    root = workspace.root
    monkeypatch.chdir(root)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    from dvc.repo import Repo

    Repo.init(str(root)).close()
    with Repo(str(root)) as repo:
        repo.add(str(root / "data"))
    _set_remote(root, tmp_path / "remote")
    return workspace


def _new_data(params, path: Path, rows: int = 500) -> Path:
    pd.read_csv(params.data_path).head(rows).to_csv(path, index=False)
    return path


def _state(params) -> tuple[bytes, bytes]:
    return (params.root / "data.dvc").read_bytes(), params.data_path.read_bytes()


def test_new_data_replaces_the_old_and_updates_data_dvc(dvc_workspace, tmp_path):
    params = load_params(dvc_workspace.params_file)
    assert params.root == dvc_workspace.root
    before = (dvc_workspace.root / "data.dvc").read_text()

    assert replace_data(params, _new_data(params, tmp_path / "new.csv"), SOURCE) is True
    assert (dvc_workspace.root / "data.dvc").read_text() != before
    assert len(pd.read_csv(params.data_path)) == 500
    assert is_current(params.root)
    assert [p for p in (tmp_path / "remote").rglob("*") if p.is_file()], "dvc push stored nothing"


def test_invalid_new_data_changes_nothing(dvc_workspace, tmp_path):
    params = load_params(dvc_workspace.params_file)
    assert params.root == dvc_workspace.root
    before = _state(params)
    new = tmp_path / "new.csv"
    frame = pd.read_csv(params.data_path).head(50)
    frame["tenure_months"] = -5
    frame.to_csv(new, index=False)

    with pytest.raises(DataError, match=f"^{SOURCE}: the new data does not fit params.yaml"):
        replace_data(params, new, SOURCE)
    assert _state(params) == before


def test_new_data_training_could_not_learn_from_changes_nothing(dvc_workspace, tmp_path):
    """It passes the schema, but has a single class: validate_data.py would refuse it after the push."""
    params = load_params(dvc_workspace.params_file)
    before = _state(params)
    new = tmp_path / "new.csv"
    frame = pd.read_csv(params.data_path).head(50)
    frame[params.target] = frame[params.target].iloc[0]
    frame.to_csv(new, index=False)

    with pytest.raises(DataError, match=f"^{SOURCE}: the new data cannot be trained on: .*single class"):
        replace_data(params, new, SOURCE)
    assert _state(params) == before


def test_without_a_dvc_remote_nothing_is_replaced(dvc_workspace, tmp_path):
    """The PR's pipeline could not fetch data that was never pushed."""
    params = load_params(dvc_workspace.params_file)
    _set_remote(params.root, None)
    before = _state(params)

    with pytest.raises(DataError, match=r"needs a DVC remote \(`dvc remote add -d"):
        replace_data(params, _new_data(params, tmp_path / "new.csv"), SOURCE)
    assert _state(params) == before


def test_a_failed_push_puts_the_previous_data_and_data_dvc_back(dvc_workspace, tmp_path):
    params = load_params(dvc_workspace.params_file)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    _set_remote(params.root, blocker / "remote")  # a remote under a file: the push fails, offline
    before = _state(params)

    with pytest.raises(DataError, match="dvc push to remote 'store' failed"):
        replace_data(params, _new_data(params, tmp_path / "new.csv"), SOURCE)
    assert _state(params) == before
    assert is_current(params.root)
    assert sorted(p.name for p in params.root.iterdir() if p.name.startswith(".refresh")) == []


def test_a_data_path_outside_data_is_refused(dvc_workspace, tmp_path):
    """`dvc add data` would never record it: the refresh would report "unchanged" and propose nothing new."""
    params = load_params(dvc_workspace.params_file)
    outside = params.root / "churn.csv"
    outside.write_bytes(params.data_path.read_bytes())
    params = dataclasses.replace(params, data_path=outside)  # data.path: churn.csv
    before = _state(params)

    with pytest.raises(DataError, match="is outside data/, the directory data.dvc tracks"):
        replace_data(params, _new_data(params, tmp_path / "new.csv"), SOURCE)
    assert _state(params) == before
