"""Workflow dispatch: one call, one run, whether GitHub answers 204, 200 with the run, or nothing at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.github.client import GitHubClient
from ml.github.dispatch import dispatch_workflow, parse_inputs
from ml.github.errors import GitHubError
from tests.conftest import assert_ok, assert_one_line_error
from tests.github.conftest import run_gh
from tests.support.github_standin import GitHubStandIn


def test_each_call_under_30_percent_faults_makes_exactly_one_dispatch(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_workflow("retrain.yml", inputs=("reason",))
    gh.random_faults(0.3, seed=2)
    for call in range(3):
        run = assert_ok(run_gh(gh, "dispatch_workflow.py", "--workflow", "retrain.yml", "--ref", "main",
                               "--input", f"reason=drift {call}", cwd=tmp_path))
        assert "/actions/runs/" in run.stdout
    assert [d["inputs"]["reason"] for d in gh.dispatches] == ["drift 0", "drift 1", "drift 2"]


@pytest.mark.parametrize("fault", ["502-after", "disconnect-after", "502-before"])
def test_an_ambiguous_failure_is_checked_before_dispatching_again(gh: GitHubStandIn, client: GitHubClient,
                                                                   fault: str) -> None:
    gh.add_workflow("retrain.yml")
    gh.add_run("1" * 40, workflow="retrain.yml")  # an older run of another event must not be mistaken
    gh.fail(fault, op="actions/create_workflow_dispatch")
    result = dispatch_workflow(client, "retrain.yml", "main", {})
    assert len(gh.dispatches) == 1 and result.run_id == gh.dispatches[0]["run_id"]


def test_a_204_answer_is_accepted_without_run_details(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_workflow("retrain.yml")
    gh.dispatch_details = False
    run = assert_ok(run_gh(gh, "dispatch_workflow.py", "--workflow", "retrain.yml", "--ref", "main",
                           cwd=tmp_path, GITHUB_SERVER_URL="https://github.example"))
    assert "did not say which run" in run.stdout and "github.example" in run.stdout
    assert len(gh.dispatches) == 1


def test_github_refusals_are_one_line(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_workflow("retrain.yml", inputs=("reason",))
    missing = run_gh(gh, "dispatch_workflow.py", "--workflow", "nope.yml", "--ref", "main", cwd=tmp_path)
    assert_one_line_error(missing, "404", "nope.yml")
    unexpected = run_gh(gh, "dispatch_workflow.py", "--workflow", "retrain.yml", "--ref", "main",
                        "--input", "colour=red", cwd=tmp_path)
    assert_one_line_error(unexpected, "422", "Unexpected inputs")
    gh.permissions = {"contents": "write"}
    denied = run_gh(gh, "dispatch_workflow.py", "--workflow", "retrain.yml", "--ref", "main", cwd=tmp_path)
    assert_one_line_error(denied, "`actions: write`")
    assert gh.dispatches == []


@pytest.mark.parametrize("pairs, needle", [(["novalue"], "key=value"), (["a=1", "a=2"], "twice"),
                                           ([f"k{i}=v" for i in range(26)], "at most 25")])
def test_bad_inputs_are_refused_before_calling_github(pairs: list[str], needle: str) -> None:
    with pytest.raises(GitHubError, match=needle):
        parse_inputs(pairs)


def test_inputs_keep_equals_signs_in_values() -> None:
    assert parse_inputs(["query=a=b", "empty="]) == {"query": "a=b", "empty": ""}


RETRAIN = ("--workflow", "retrain.yml", "--ref", "main", "--input", "reason=drift", "--skip-if-open-pr", "retrain/")


def test_an_open_retrain_pr_stops_the_next_dispatch_with_a_notice(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_workflow("retrain.yml", inputs=("reason",))
    for number in range(120):  # the open retrain PR is on the second page of open PRs (newest first)
        gh.add_pull(head_ref=f"feature-{number}")
    pull = gh.add_pull(head_ref="retrain/7-1", title="Retrain (drift)")
    for number in range(120):
        gh.add_pull(head_ref=f"later-{number}")
    run = assert_ok(run_gh(gh, "dispatch_workflow.py", *RETRAIN, cwd=tmp_path))
    assert gh.dispatches == []
    notice = run.stdout.strip()
    assert notice.startswith("::notice title=retrain.yml not dispatched::") and "\n" not in notice
    assert f"PR #{pull['number']} from retrain/7-1 is still open ({pull['html_url']})" in notice


def test_other_prs_do_not_stop_the_dispatch(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_workflow("retrain.yml", inputs=("reason",))
    gh.add_pull(head_ref="retrain/5-1", state="closed")  # merged or closed: a new retraining may be proposed
    gh.add_pull(head_ref="retrain/6-1", head_owner="someone-else")  # a fork's branch of that name
    gh.add_pull(head_ref="retraining-notes")
    gh.add_pull(head_ref="feature/retrain/x")
    run = assert_ok(run_gh(gh, "dispatch_workflow.py", *RETRAIN, cwd=tmp_path))
    assert "/actions/runs/" in run.stdout and len(gh.dispatches) == 1
    assert [r.op for r in gh.requests if r.op == "pulls/list"] == ["pulls/list"]


def test_without_the_option_open_prs_are_not_listed(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_workflow("retrain.yml")
    gh.add_pull(head_ref="retrain/7-1")
    assert_ok(run_gh(gh, "dispatch_workflow.py", "--workflow", "retrain.yml", "--ref", "main", cwd=tmp_path))
    assert len(gh.dispatches) == 1 and all(r.op != "pulls/list" for r in gh.requests)


def test_the_open_pr_check_is_planned_needs_a_prefix_and_a_permission(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_workflow("retrain.yml", inputs=("reason",))
    plan = assert_ok(run_gh(gh, "dispatch_workflow.py", *RETRAIN, "--dry-run", cwd=tmp_path, GITHUB_TOKEN=""))
    assert f"1. GET /repos/{gh.repository}/pulls?state=open" in plan.stdout and "retrain/…" in plan.stdout
    empty = run_gh(gh, "dispatch_workflow.py", *RETRAIN[:-1], " ", cwd=tmp_path)
    assert_one_line_error(empty, "--skip-if-open-pr", "branch prefix")
    gh.permissions = {"actions": "write"}
    denied = run_gh(gh, "dispatch_workflow.py", *RETRAIN, cwd=tmp_path)
    assert_one_line_error(denied, "403", "`pull-requests: read`")
    assert gh.dispatches == []


def test_an_unfinished_dispatched_run_stops_the_next_dispatch_until_it_completes(gh: GitHubStandIn,
                                                                                 tmp_path: Path) -> None:
    """Drift two days running while the first retraining is still queued: its PR does not exist yet."""
    gh.add_workflow("retrain.yml", inputs=("reason",))
    assert_ok(run_gh(gh, "dispatch_workflow.py", *RETRAIN, "--skip-if-running", cwd=tmp_path))
    first = gh.runs[0]
    skipped = assert_ok(run_gh(gh, "dispatch_workflow.py", *RETRAIN, "--skip-if-running", cwd=tmp_path))
    assert len(gh.dispatches) == 1
    assert skipped.stdout.startswith("::notice title=retrain.yml not dispatched::")
    assert f"run {first['id']} of it is still queued ({first['html_url']})" in skipped.stdout

    first["status"], first["conclusion"] = "completed", "failure"
    assert_ok(run_gh(gh, "dispatch_workflow.py", *RETRAIN, "--skip-if-running", cwd=tmp_path))
    assert len(gh.dispatches) == 2
    assert_ok(run_gh(gh, "dispatch_workflow.py", *RETRAIN, cwd=tmp_path))  # without the flag: not looked at
    assert len(gh.dispatches) == 3
