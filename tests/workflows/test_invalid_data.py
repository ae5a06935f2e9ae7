"""A PR whose data fails validation still gets a comment that says which column and why (and a red check)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.actions_runner import pull_request_event, workflow_run_event
from tests.support.github_standin import GitHubStandIn
from tests.workflows.conftest import BASE_SHA, HEAD_SHA, make_harness

REPO_ROOT = Path(__file__).resolve().parents[2]


def repo_with_stricter_schema(dest: Path) -> Path:
    """A copy of the repository whose params.yaml no longer admits the sample's tenure values above 10."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout
    for rel in filter(None, listed.decode().split("\0")):
        if (REPO_ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / rel, dest / rel)
    params = dest / "params.yaml"
    text = params.read_text()
    old = "tenure_months:      {type: int, min: 0, max: 72}"
    assert old in text, "params.yaml changed: update this test"
    params.write_text(text.replace(old, "tenure_months:      {type: int, min: 0, max: 10}"))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    return dest


def test_invalid_data_gets_a_comment_naming_the_column(tmp_path):
    root = repo_with_stricter_schema(tmp_path / "repo")
    with GitHubStandIn() as gh:
        harness = make_harness(gh, tmp_path, repo_root=root)
        pull = gh.add_pull(head_sha=HEAD_SHA, head_ref="bad-data")["number"]
        event = pull_request_event(gh.repository, pull, HEAD_SHA, BASE_SHA, "bad-data")
        pr_run = harness.runner.run("pr.yml", "pull_request", event, sha=HEAD_SHA)
        assert pr_run.conclusion == "failure", pr_run.log  # the check is red: nothing was trained
        comment_run = harness.runner.run("pr-comment.yml", "workflow_run",
                                         workflow_run_event(gh.repository, pr_run, HEAD_SHA, "bad-data"), sha=BASE_SHA)
        assert comment_run.conclusion == "success", comment_run.log
        comments = gh.comments_on(pull)
        assert len(comments) == 1
        body = comments[0]["body"]
        assert "Data invalid" in body and "`tenure_months`" in body and "must be &lt;= 10" in body  # GitHub shows <=
        assert "`python scripts/draft_params.py data/churn.csv --target churned --write`" in body  # the way out
        assert gh.violations == []
