"""get_data.py against real DVC: push/delete/pull through a local-directory remote, regeneration without one,
and refusal to touch data that differs from data.dvc.

Each test works in a fresh git repository holding a copy of the template's params.yaml, .dvc/config and data.dvc.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ml.fileio import sha256_file
from ml.sample_data import write_churn_csv
from tests.conftest import PYTHON, REPO, assert_ok, assert_one_line_error, run_script, script_env

DVC = str(Path(PYTHON).parent / "dvc")


def dvc(repo: Path, *args: str) -> None:
    done = subprocess.run([DVC, *args], cwd=repo, env=script_env(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, f"dvc {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture
def dvc_repo(tmp_path: Path) -> Path:
    """A git repository with the template's DVC setup and the sample data it tracks (generated, as a fork does)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    shutil.copy(REPO / "params.yaml", repo / "params.yaml")
    shutil.copy(REPO / "data.dvc", repo / "data.dvc")
    (repo / ".dvc").mkdir()
    for name in ("config", ".gitignore"):
        shutil.copy(REPO / ".dvc" / name, repo / ".dvc" / name)
    data = repo / "data" / "churn.csv"
    data.parent.mkdir()
    write_churn_csv(data, yaml.safe_load((repo / "params.yaml").read_text())["data"]["sample_rows"])
    return repo


def get_data(repo: Path):
    return run_script("get_data.py", cwd=repo)


def test_push_delete_pull_round_trip_through_a_local_remote(dvc_repo: Path, tmp_path: Path) -> None:
    repo, remote = dvc_repo, tmp_path / "remote"
    data = repo / "data" / "churn.csv"
    original_sha, tracked = sha256_file(data), (repo / "data.dvc").read_text()
    dvc(repo, "add", "-q", "data")
    assert (repo / "data.dvc").read_text() == tracked, "the regenerated sample differs from the committed data.dvc"
    dvc(repo, "remote", "add", "-d", "local", str(remote))
    dvc(repo, "push", "-q")
    assert [p for p in remote.rglob("*") if p.is_file()], "dvc push stored nothing"

    shutil.rmtree(repo / "data")
    shutil.rmtree(repo / ".dvc" / "cache")
    run = assert_ok(get_data(repo))

    assert "pulled" in run.stdout and "matches data.dvc" in run.stdout
    assert sha256_file(data) == original_sha
    assert "present" in assert_ok(get_data(repo)).stdout

    data.write_text(data.read_text() + "0,10,10,month-to-month,mailed-check,dsl,north,0,1,False,False,0\n")
    assert_one_line_error(get_data(repo), "dvc pull", "--force")
    assert sha256_file(data) != original_sha, "get_data.py overwrote data that differs from data.dvc"


def test_without_a_remote_missing_data_is_regenerated_and_verified(dvc_repo: Path) -> None:
    repo = dvc_repo
    data = repo / "data" / "churn.csv"
    original_sha = sha256_file(data)
    shutil.rmtree(repo / "data")

    run = assert_ok(get_data(repo))

    assert "regenerated" in run.stdout and "matches data.dvc" in run.stdout
    assert sha256_file(data) == original_sha


def test_without_a_remote_changed_data_is_a_clear_error_and_left_alone(dvc_repo: Path) -> None:
    repo = dvc_repo
    data = repo / "data" / "churn.csv"
    data.write_text(data.read_text().replace("north", "nord", 1))
    edited = sha256_file(data)

    assert_one_line_error(get_data(repo), "data/churn.csv", "differs from the hash in data.dvc", "dvc add data")
    assert sha256_file(data) == edited


def test_without_a_remote_or_a_sample_missing_data_is_a_clear_error(dvc_repo: Path) -> None:
    repo = dvc_repo
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    del raw["data"]["sample_rows"]  # your own data: nothing to regenerate
    (repo / "params.yaml").write_text(yaml.safe_dump(raw))
    shutil.rmtree(repo / "data")

    assert_one_line_error(get_data(repo), "data/churn.csv", "missing", "dvc remote add")


def test_without_data_dvc_is_a_clear_error(dvc_repo: Path) -> None:
    from ml.dvc_data import ensure_data
    from ml.errors import DataError
    from ml.params import parse_params

    (dvc_repo / "data.dvc").unlink()
    with pytest.raises(DataError, match="data.dvc: not found"):
        ensure_data(parse_params(yaml.safe_load((dvc_repo / "params.yaml").read_text()), dvc_repo))
