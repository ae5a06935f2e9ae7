"""get_data.py against real DVC: push/delete/pull through a local-directory remote, regeneration without one,
and refusal to touch data that differs from data.dvc (edits since the last `dvc add`, with a remote or without).

Each test works in a fresh git repository holding a copy of the template's params.yaml, .dvc/config and data.dvc.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ml.fileio import sha256_file
from ml.sample_data import write_churn_csv
from tests.conftest import REPO, assert_ok, assert_one_line_error, run_script

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:dvc")  # DVC's own, not ours


EXTRA_ROW = "0,10,10,month-to-month,mailed-check,dsl,north,0,1,False,False,0\n"
EDITED = ("data/ differs from data.dvc (edited since the last `dvc add`): run `dvc add data` to record your change "
          "(then `dvc push`), or `dvc checkout --force data` to discard it")


def add_and_push(repo: Path, remote: Path) -> None:
    """`dvc add data`, `dvc remote add -d local REMOTE`, `dvc push`, through DVC's Python API (no CLI startups)."""
    from dvc.repo import Repo

    with contextlib.chdir(repo), Repo(".") as dvc:  # DVC's API takes paths relative to the working directory
        dvc.add("data")
        with dvc.config.edit() as config:
            config["remote"]["local"] = {"url": str(remote)}
            config["core"]["remote"] = "local"
    with contextlib.chdir(repo), Repo(".") as dvc:
        assert dvc.push() > 0


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
    add_and_push(repo, remote)
    assert (repo / "data.dvc").read_text() == tracked, "the regenerated sample differs from the committed data.dvc"
    assert "remote = local" in (repo / ".dvc" / "config").read_text()
    assert [p for p in remote.rglob("*") if p.is_file()], "dvc push stored nothing"

    shutil.rmtree(repo / "data")
    shutil.rmtree(repo / ".dvc" / "cache")
    run = assert_ok(get_data(repo))

    assert "pulled" in run.stdout and "matches data.dvc" in run.stdout
    assert sha256_file(data) == original_sha
    assert "present" in assert_ok(get_data(repo)).stdout

    data.write_text(data.read_text() + EXTRA_ROW)
    edited = sha256_file(data)
    assert_one_line_error(get_data(repo), EDITED)
    assert sha256_file(data) == edited, "get_data.py overwrote data that differs from data.dvc"


@pytest.mark.parametrize("fresh_clone", [False, True], ids=["with-cache", "fresh-clone"])
@pytest.mark.parametrize("edit", ["edit-the-file", "add-a-file"])
def test_with_a_remote_data_edited_since_dvc_add_is_one_clear_line_and_left_alone(
        dvc_repo: Path, tmp_path: Path, edit: str, fresh_clone: bool) -> None:
    """`dvc pull` would refuse with DVC's hint to use --force, which throws the edits away: say what happened and
    both ways on instead, and touch nothing. The advice works: checking out with --force brings data.dvc's back."""
    from dvc.repo import Repo

    repo = dvc_repo
    data = repo / "data" / "churn.csv"
    original_sha = sha256_file(data)
    add_and_push(repo, tmp_path / "remote")
    if fresh_clone:  # a clone has no cache: nothing says the workspace data was ever saved
        shutil.rmtree(repo / ".dvc" / "cache")
    if edit == "edit-the-file":
        data.write_text(data.read_text().replace("north", "nord", 1))
    else:
        (repo / "data" / "notes.txt").write_text("mine\n")
    before = {path.name: sha256_file(path) for path in (repo / "data").iterdir()}

    line = assert_one_line_error(get_data(repo), EDITED)
    assert "Use `--force` to force" not in line
    assert {path.name: sha256_file(path) for path in (repo / "data").iterdir()} == before

    with contextlib.chdir(repo), Repo(".") as dvc:  # `dvc checkout --force data`, as the line says
        dvc.checkout(targets=["data"], force=True)
    assert sha256_file(data) == original_sha
    assert "present" in assert_ok(get_data(repo)).stdout


@pytest.mark.parametrize("workspace", ["older-version", "emptied-dir"])
def test_with_a_remote_data_that_is_no_edit_is_pulled_over(dvc_repo: Path, tmp_path: Path, workspace: str) -> None:
    """Not every difference is an edit: after a `git pull` brings a newer data.dvc, the workspace still holds the
    version pulled before (DVC's cache has it, so replacing it loses nothing), and an emptied data/ holds nothing."""
    repo, remote = dvc_repo, tmp_path / "remote"
    data = repo / "data" / "churn.csv"
    older = data.read_bytes()
    add_and_push(repo, remote)
    data.write_text(data.read_text() + EXTRA_ROW)  # the newer version, recorded and pushed from elsewhere
    add_and_push(repo, remote)
    newer_sha = sha256_file(data)
    if workspace == "older-version":
        data.write_bytes(older)
    else:
        data.unlink()

    assert "pulled" in assert_ok(get_data(repo)).stdout
    assert sha256_file(data) == newer_sha


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


@pytest.mark.parametrize("garble", [
    lambda text: f"<<<<<<< HEAD\n{text}=======\n{text.replace('md5', 'md6')}>>>>>>> other\n",  # a merge conflict
    lambda text: "outs: 3\n",  # YAML, but not what DVC expects
])
def test_a_data_dvc_dvc_cannot_read_is_one_line(dvc_repo: Path, garble) -> None:
    dvc_file = dvc_repo / "data.dvc"
    dvc_file.write_text(garble(dvc_file.read_text()))
    assert_one_line_error(get_data(dvc_repo), "data.dvc: DVC cannot read it", "dvc add data")
