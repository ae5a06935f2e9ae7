"""drift.yml on a fresh fork: forks do not copy releases, so there is no champion to compare production against
until something is merged. That run ends with a notice, not red (and a scheduled one is not red every day)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Workspace, assert_ok, assert_one_line_error, run_script, script_env
from tests.support.actions_runner import workflow_dispatch_event
from tests.support.github_standin import GitHubStandIn
from tests.workflows.conftest import BASE_SHA, Harness, make_harness

NOTICE = "No champion yet: nothing to compare production against"


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with GitHubStandIn() as gh:
        yield make_harness(gh, tmp_path)


def test_fetch_model_says_there_is_no_champion_and_sets_found_false(workspace: Workspace, tmp_path: Path) -> None:
    outputs = tmp_path / "github_output"
    outputs.touch()
    run = assert_ok(run_script("fetch_model.py", "--dest", "champion", "--no-champion-ok", cwd=workspace.root,
                               env=script_env(GITHUB_OUTPUT=str(outputs))))
    assert run.stdout.startswith(f"::notice title={NOTICE.replace(': ', '::', 1)}")
    assert outputs.read_text() == "found=false\n"
    assert not (workspace.root / "champion").exists()
    assert_one_line_error(workspace.run("fetch_model.py", "--dest", "champion"), "no champion yet")


def test_drift_with_simulate_on_a_fork_without_releases_ends_with_a_notice(harness: Harness) -> None:
    run = harness.runner.run("drift.yml", "workflow_dispatch",
                             workflow_dispatch_event(harness.gh.repository, {"simulate": True}), sha=BASE_SHA)
    assert run.conclusion == "success", run.log[-4000:]
    job = run.jobs["drift"]
    assert job.conclusion == "success"
    assert [text for level, text in run.annotations if level == "notice" and text.startswith(NOTICE)] != []
    fetched = job.steps.index(job.step("champion"))
    assert job.step("champion").outputs == {"found": "false"}
    assert {step.outcome for step in job.steps[fetched + 1:]} == {"skipped"}
    assert harness.gh.dispatches == [] and harness.gh.issue_list() == []
