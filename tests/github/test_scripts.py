"""The three GitHub scripts as a workflow runs them: --help, --dry-run, and one-line errors without the token."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.github.inert import markdown_problem
from ml.github.markers import DRIFT_MARKER, PR_REPORT_MARKER
from tests.conftest import assert_ok, assert_one_line_error, run_script, script_env
from tests.github.conftest import run_gh
from tests.support.github_standin import GitHubStandIn

SCRIPTS = {
    "post_pr_comment.py": ["--pr", "1", "--body-file", "body.md"],
    "open_drift_issue.py": ["--report-file", "body.md"],
    "dispatch_workflow.py": ["--workflow", "retrain.yml", "--ref", "main", "--input", "reason=drift"],
}


@pytest.fixture
def body(tmp_path: Path) -> Path:
    path = tmp_path / "body.md"
    path.write_text("## Report\nall good\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_names_the_permissions(script: str, tmp_path: Path) -> None:
    run = assert_ok(run_script(script, "--help", cwd=tmp_path))
    assert "--dry-run" in run.stdout and "GITHUB_TOKEN" in run.stdout and "permissions" in run.stdout


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_dry_run_prints_the_plan_and_sends_nothing(gh: GitHubStandIn, script: str, body: Path) -> None:
    run = assert_ok(run_gh(gh, script, *SCRIPTS[script], "--dry-run", cwd=body.parent, GITHUB_TOKEN=""))
    assert "dry run" in run.stdout and gh.repository in run.stdout and "GITHUB_TOKEN not set" in run.stdout
    assert gh.requests == []
    if script == "dispatch_workflow.py":
        assert '"reason": "drift"' in run.stdout and "dispatches" in run.stdout
    else:
        assert "all good" in run.stdout
        assert (PR_REPORT_MARKER if script == "post_pr_comment.py" else DRIFT_MARKER) in run.stdout


@pytest.mark.parametrize("script, missing, needle", [
    *((script, "GITHUB_TOKEN", "GITHUB_TOKEN is not set") for script in sorted(SCRIPTS)),
    ("post_pr_comment.py", "GITHUB_REPOSITORY", "GITHUB_REPOSITORY is not set"),
])
def test_missing_configuration_is_one_line(gh: GitHubStandIn, script: str, missing: str, needle: str,
                                           body: Path) -> None:
    run = run_gh(gh, script, *SCRIPTS[script], cwd=body.parent, **{missing: ""})
    assert_one_line_error(run, needle)
    assert gh.requests == []


def test_a_refused_token_is_one_line_and_never_printed(gh: GitHubStandIn, body: Path) -> None:
    token = "ghs_" + "x" * 36
    env = script_env(**{**gh.env(), "GITHUB_TOKEN": token})
    run = run_script("post_pr_comment.py", *SCRIPTS["post_pr_comment.py"], cwd=body.parent, env=env)
    assert_one_line_error(run, "401", "GITHUB_TOKEN")
    assert token not in run.stdout + run.stderr


@pytest.mark.parametrize("args, needle", [
    (["--body-file", "missing.md", "--pr", "1"], "missing.md"),
    (["--body-file", "empty.md", "--pr", "1"], "empty"),
    (["--body-file", "body.md"], "--pr N or --head-sha"),
    (["--body-file", "body.md", "--pr", "1", "--marker", "not a comment"], "HTML comment"),
])
def test_bad_arguments_are_one_line(gh: GitHubStandIn, body: Path, args: list[str], needle: str) -> None:
    (body.parent / "empty.md").write_text("  \n", encoding="utf-8")
    run = run_gh(gh, "post_pr_comment.py", *args, cwd=body.parent)
    assert run.returncode != 0 and "Traceback" not in run.stderr and needle in run.stderr, run.describe()
    assert gh.requests == []


def test_an_overlong_report_is_cut_to_githubs_limit(gh: GitHubStandIn, tmp_path: Path) -> None:
    pr = gh.add_pull()
    huge = tmp_path / "huge.md"
    huge.write_text("x" * 70_000, encoding="utf-8")
    assert_ok(run_gh(gh, "post_pr_comment.py", "--pr", str(pr["number"]), "--body-file", str(huge), cwd=tmp_path))
    (comment,) = gh.comments_on(pr["number"])
    assert len(comment["body"]) <= 65536 and comment["body"].startswith(PR_REPORT_MARKER)
    assert "truncated" in comment["body"]


def test_an_overlong_report_is_cut_between_lines_so_no_code_span_is_left_open(gh: GitHubStandIn,
                                                                              tmp_path: Path) -> None:
    """A many-column drift report quotes what clients sent in code spans: cut inside one, the rest of its line
    would be a live mention and link on the bot's issue."""
    pr = gh.add_pull()
    huge = tmp_path / "huge.md"
    row = "| `'@org/team [x](https://evil.example)'` | 1 |\n"
    table = "| value | rows |\n| --- | --- |\n" + row * (70_000 // len(row))
    assert markdown_problem(table) is None
    for offset in range(0, len(row), 7):  # wherever GitHub's limit falls within a row
        huge.write_text("x" * offset + "\n\n" + table, encoding="utf-8")
        assert_ok(run_gh(gh, "post_pr_comment.py", "--pr", str(pr["number"]), "--body-file", str(huge),
                         cwd=tmp_path))
        (comment,) = gh.comments_on(pr["number"])
        assert len(comment["body"]) <= 65536 and "truncated" in comment["body"]
        assert markdown_problem(comment["body"]) is None, offset


@pytest.mark.parametrize("file", ["ABSOLUTE", "../outside.txt", "sub/../../outside.txt"])
def test_open_pr_refuses_a_file_outside_the_checkout(gh: GitHubStandIn, body: Path, file: str) -> None:
    checkout = body.parent / "checkout"
    checkout.mkdir()
    (body.parent / "outside.txt").write_text("a runner file")
    (checkout / "sub").mkdir()
    file = str(body.parent / "outside.txt") if file == "ABSOLUTE" else file
    run = run_gh(gh, "open_pr.py", "--branch", "b", "--title", "t", "--body-file", str(body), "--file", file,
                 cwd=checkout, GITHUB_SHA="1" * 40)
    assert_one_line_error(run, file, "not a path inside the checkout")
    assert gh.requests == []


def test_open_pr_commits_a_checkout_file_at_its_repository_path(gh: GitHubStandIn, body: Path) -> None:
    gh.add_commit("1" * 40, "main")
    (body.parent / "data.dvc").write_text("outs: []\n")
    run = run_gh(gh, "open_pr.py", "--branch", "b", "--title", "t", "--body-file", str(body), "--file", "./data.dvc",
                 cwd=body.parent, GITHUB_SHA="1" * 40)
    assert_ok(run)
    assert gh.files_at("b") == {"data.dvc": b"outs: []\n"}
