"""release.yml runs that overlap: a re-run of an older run's deploy, and merges that queue for a concurrency group.

"Re-run failed jobs" runs only the failed jobs; the ones that succeeded keep the outputs of the first attempt. The
harness has no re-runs, so a copy of release.yml stands in for one: each job that succeeded only hands back those
outputs, and the deploy job runs as written, against the registry as it is now.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ml.registry.github import GitHubReleasesRegistry
from tests.github.conftest import client_for, make_bundle
from tests.support.actions_runner import RunResult, push_event
from tests.support.github_standin import GitHubStandIn
from tests.workflows.conftest import BASE_SHA, MERGE_SHA, Harness, make_harness

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
DEPLOY = "python scripts/deploy.py deploy"


@pytest.fixture
def harness(tmp_path) -> Iterator[Harness]:
    """A deploy target configured, and two releases: v2, a later merge's, is the champion."""
    with GitHubStandIn() as gh:
        with client_for(gh) as client:
            registry = GitHubReleasesRegistry(client)
            for version in (1, 2):
                registry.publish(make_bundle(tmp_path / f"v{version}", version, seed=version))
        yield make_harness(gh, tmp_path, variables={"DEPLOY_BACKEND": "host"})


def rerun_failed_deploy(harness: Harness, tmp_path: Path, number: int) -> RunResult:
    """Re-run the deploy job of the run that promoted v`number`: promote and image are not run again, only their
    outputs are. The deploy target is not reproduced: the deploy command is echoed instead of run."""
    spec = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    image = f"ghcr.io/{harness.gh.repository.lower()}"
    first_attempt = {"promote": {"promoted": "true", "version": f"v{number}", "number": str(number)},
                     "image": {"image": image, "digest": "sha256:" + "0" * 64}}
    for name, outputs in first_attempt.items():
        spec["jobs"][name] = {"runs-on": "ubuntu-latest", "needs": spec["jobs"][name].get("needs", []),
                              "permissions": {}, "outputs": outputs, "steps": [{"run": "true"}]}
    deploy = next(s for s in spec["jobs"]["deploy"]["steps"] if DEPLOY in s.get("run", ""))
    deploy["run"] = deploy["run"].replace(DEPLOY, f"echo {DEPLOY}")
    path = tmp_path / "release.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    run = harness.runner.run(path, "push", push_event(harness.gh.repository, MERGE_SHA, BASE_SHA), sha=MERGE_SHA)
    assert run.conclusion == "success", run.log[-8000:]
    return run


def test_a_rerun_of_an_older_runs_deploy_deploys_nothing_and_says_why(harness, tmp_path):
    run = rerun_failed_deploy(harness, tmp_path, number=1)
    job = run.jobs["deploy"]
    assert job.step("Deploy blue/green (smoke test, bake, automatic rollback)").outcome == "skipped"
    assert ("notice", "Deploy skipped: v1 is no longer the champion (v2 is): not deploying an older model; "
                      "use deploy.py rollback to go back deliberately") in run.annotations
    assert job.step("Show what is live").outcome == "success"
    assert job.step("current").outputs == {"deploy": "false"}


def test_a_rerun_of_the_champions_deploy_still_deploys_it(harness, tmp_path):
    run = rerun_failed_deploy(harness, tmp_path, number=2)
    job = run.jobs["deploy"]
    deploy = job.step("Deploy blue/green (smoke test, bake, automatic rollback)")
    assert deploy.outcome == "success" and f"{DEPLOY} --backend host --version 2" in deploy.log
    assert not any("Deploy skipped" in text for _, text in run.annotations)
    assert job.step("current").outputs == {"deploy": "true"}


@pytest.mark.parametrize("workflow, job, queue", [
    ("release.yml", "promote", "max"),     # every merge gets its release, in merge order
    ("release.yml", "image", "max"),       # every release gets its image
    ("release.yml", "deploy", "single"),   # production skips straight to the newest model
    ("retrain.yml", None, "single"),       # the newest retraining trains on the newest data
])
def test_waiting_runs_are_kept_where_each_one_counts(workflow, job, queue):
    """GitHub's default queue cancels every pending job of a group but the newest, whatever cancel-in-progress says."""
    spec = yaml.safe_load((WORKFLOWS / workflow).read_text())
    concurrency = (spec["jobs"][job] if job else spec)["concurrency"]
    assert concurrency.get("queue", "single") == queue
    assert concurrency["cancel-in-progress"] is False  # GitHub refuses queue: max with it, and never cuts one off
