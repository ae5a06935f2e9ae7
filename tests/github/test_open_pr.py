"""Proposing a PR through the Git data API: a branch or PR whose answer was lost is picked up, never made twice; a
branch that is not ours is never moved; --dry-run only reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.github.client import GitHubClient
from ml.github.errors import GitHubError
from ml.propose_pr import git_blob_sha, propose_pull_request
from tests.conftest import assert_ok, assert_one_line_error, run_script
from tests.github.conftest import run_gh
from tests.support.github_standin import GitHubStandIn

BASE = "1" * 40
BRANCH = "retrain/42-1"
FILES = {"data.dvc": b"outs: [new]\n", "retrain.json": b'{"reason": "drift"}\n'}


@pytest.fixture
def base(gh: GitHubStandIn) -> str:
    gh.add_commit(BASE, "main", files={"data.dvc": b"outs: [old]\n", "README.md": b"# churn\n"})
    return BASE


def _propose(client: GitHubClient) -> object:
    return propose_pull_request(client, "main", BASE, BRANCH, "Retrain (drift)", "the report", FILES, "Retrain")


def _writes(gh: GitHubStandIn, op: str) -> list[tuple[int, str | None]]:
    return [(r.status, r.fault) for r in gh.requests if r.op == op]


def _open_pulls(gh: GitHubStandIn) -> list[dict]:
    return [p for p in gh.pulls.values() if p["state"] == "open" and p["head"]["ref"] == BRANCH]


@pytest.mark.parametrize("kind", ["502-after", "disconnect-after"])
def test_a_branch_made_but_not_answered_is_picked_up(gh: GitHubStandIn, client: GitHubClient, base: str,
                                                     kind: str) -> None:
    gh.fail(kind, op="git/create_ref")
    pull = _propose(client)
    assert gh.refs[f"refs/heads/{BRANCH}"] == pull.commit_sha
    assert gh.files_at(BRANCH) == {**FILES, "README.md": b"# churn\n"}
    assert [p["number"] for p in _open_pulls(gh)] == [pull.number]
    assert len(_writes(gh, "git/create_ref")) == 1  # looked up, not sent again


def test_already_exists_on_the_next_attempt_is_our_own_branch(gh: GitHubStandIn, client: GitHubClient,
                                                              base: str) -> None:
    gh.fail("502-after", op="git/create_ref")
    gh.fail("stale-read", op="git/get_ref")  # the lookup misses it, so the branch is created again
    pull = _propose(client)
    assert _writes(gh, "git/create_ref") == [(502, "502-after"), (422, None)]
    assert gh.refs[f"refs/heads/{BRANCH}"] == pull.commit_sha
    assert [p["number"] for p in _open_pulls(gh)] == [pull.number]


@pytest.mark.parametrize("kind", ["502-after", "disconnect-after"])
def test_a_pull_request_already_open_for_the_branch_is_reported(gh: GitHubStandIn, client: GitHubClient, base: str,
                                                                kind: str) -> None:
    gh.fail(kind, op="pulls/create")
    gh.fail("stale-read", op="pulls/list")  # not listed yet: the next attempt gets "A pull request already exists"
    pull = _propose(client)
    assert _writes(gh, "pulls/create") == [(201 if kind == "disconnect-after" else 502, kind), (422, None)]
    (opened,) = _open_pulls(gh)
    assert (pull.number, pull.url) == (opened["number"], opened["html_url"])


def test_someone_elses_branch_is_refused_and_left_alone(gh: GitHubStandIn, base: str, tmp_path: Path) -> None:
    theirs = "2" * 40
    gh.add_commit(theirs, BRANCH)
    for name, content in FILES.items():
        (tmp_path / name).write_bytes(content)
    run = run_gh(gh, "open_pr.py", "--branch", BRANCH, "--title", "t", "--body-file", "retrain.json",
                 "--file", "data.dvc", cwd=tmp_path, GITHUB_SHA=BASE)
    assert_one_line_error(run, f"branch {BRANCH} already exists at {theirs[:12]}", "not ours to overwrite")
    assert gh.refs[f"refs/heads/{BRANCH}"] == theirs
    assert gh.pulls == {}
    assert not [r for r in gh.requests if r.method in ("PATCH", "DELETE")]  # never moved, never deleted


@pytest.mark.parametrize("refusal", ["actions may not open PRs", "no such base"])
def test_a_refused_pull_request_takes_its_branch_away_again(gh: GitHubStandIn, base: str, tmp_path: Path,
                                                            refusal: str) -> None:
    """A definite no (the repository does not let Actions open PRs, a base that does not exist): nothing is left, so
    re-runs do not pile up retrain branches."""
    gh.actions_may_open_pulls = refusal != "actions may not open PRs"
    (tmp_path / "data.dvc").write_bytes(FILES["data.dvc"])
    target = "main" if refusal == "actions may not open PRs" else "release"
    run = run_gh(gh, "open_pr.py", "--branch", BRANCH, "--base", target, "--title", "t", "--body-file", "data.dvc",
                 "--file", "data.dvc", cwd=tmp_path, GITHUB_SHA=BASE)
    says = "not permitted to create" if refusal == "actions may not open PRs" else "base release does not exist"
    assert_one_line_error(run, says, f"branch {BRANCH} was deleted again")
    assert f"refs/heads/{BRANCH}" not in gh.refs and gh.pulls == {}
    assert [(r.method, r.status) for r in gh.requests if r.op == "git/delete_ref"] == [("DELETE", 204)]


def test_a_pull_request_without_an_answer_keeps_its_branch(gh: GitHubStandIn, client: GitHubClient,
                                                          base: str) -> None:
    """No answer at all may still be a PR GitHub made: its branch is not taken away from under it."""
    gh.fail("502-before", op="pulls/create", times=None)
    gh.fail("stale-read", op="pulls/list", times=None)
    with pytest.raises(GitHubError):
        _propose(client)
    assert f"refs/heads/{BRANCH}" in gh.refs
    assert not [r for r in gh.requests if r.method == "DELETE"]



def test_a_pull_request_github_has_but_will_not_list_yet_keeps_its_branch(gh: GitHubStandIn, client: GitHubClient,
                                                                          base: str) -> None:
    """Made, answer lost, and the list stays stale past every settle window: "already exists" is then an error,
    but deleting the branch would close the very PR GitHub says it has."""
    gh.fail("502-after", op="pulls/create")
    gh.fail("stale-read", op="pulls/list", times=None)
    with pytest.raises(GitHubError, match="already exists"):
        _propose(client)
    assert f"refs/heads/{BRANCH}" in gh.refs and len(_open_pulls(gh)) == 1
    assert not [r for r in gh.requests if r.method == "DELETE"]


def test_dry_run_prints_what_would_be_created_and_only_reads(gh: GitHubStandIn, base: str, tmp_path: Path) -> None:
    for name, content in {**FILES, "README.md": b"# churn\n"}.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "body.md").write_text("## Retraining\ngate: accept\n", encoding="utf-8")
    objects, refs = dict(gh.git_objects), dict(gh.refs)
    run = assert_ok(run_gh(gh, "open_pr.py", "--branch", BRANCH, "--title", "Retrain (drift)", "--body-file",
                           "body.md", "--file", "retrain.json", "--file", "data.dvc", "--file", "README.md",
                           "--dry-run", cwd=tmp_path, GITHUB_SHA=BASE))
    out = run.stdout
    assert "only reads were sent, nothing is written" in out
    assert "README.md (unchanged), data.dvc (modified), retrain.json (added)" in out
    assert f"parent {BASE}, message 'Retrain (drift)'" in out
    assert f"the new branch {BRANCH} at that commit" in out
    assert f"'Retrain (drift)' from {BRANCH} into main" in out
    assert out.rstrip().endswith("## Retraining\ngate: accept")
    assert {r.method for r in gh.requests} == {"GET"}
    assert (gh.git_objects, gh.refs, gh.pulls) == (objects, refs, {})


def test_dry_run_fails_where_the_real_run_would(gh: GitHubStandIn, base: str, tmp_path: Path) -> None:
    gh.add_commit("2" * 40, BRANCH)
    (tmp_path / "data.dvc").write_bytes(FILES["data.dvc"])
    run = run_gh(gh, "open_pr.py", "--branch", BRANCH, "--title", "t", "--body-file", "data.dvc", "--file",
                 "data.dvc", "--dry-run", cwd=tmp_path, GITHUB_SHA=BASE)
    assert_one_line_error(run, f"branch {BRANCH} already exists")
    assert {r.method for r in gh.requests} == {"GET"}


def test_help_documents_the_dry_run(tmp_path: Path) -> None:
    run = assert_ok(run_script("open_pr.py", "--help", cwd=tmp_path))
    assert "--dry-run" in run.stdout and "writes nothing" in run.stdout and "permissions" in run.stdout


def test_files_are_compared_by_the_sha_git_names_them_by() -> None:
    assert git_blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    assert git_blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
