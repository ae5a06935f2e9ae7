"""Fixtures for running the workflows offline: the GitHub stand-in plus the local Actions runner wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.actions_runner import ActionsRunner
from tests.support.github_standin import GitHubStandIn

# Commits of the simulated repository: main before the PR, the PR's head, and the merge commit on main.
BASE_SHA = "1" * 40
HEAD_SHA = "2" * 40
MERGE_SHA = "3" * 40


@dataclass
class Harness:
    gh: GitHubStandIn
    runner: ActionsRunner


def grant_to(gh: GitHubStandIn):
    """Make the stand-in enforce each job's `permissions:` block, as GITHUB_TOKEN would."""

    def grant(permissions: dict[str, str]) -> None:
        gh.permissions = {key.replace("-", "_"): level for key, level in permissions.items()}

    return grant


def make_harness(gh: GitHubStandIn, tmp_path, **runner_kwargs) -> Harness:
    gh.add_commit(BASE_SHA, "main")
    gh.add_workflow("retrain.yml", inputs=("reason",))
    runner = ActionsRunner(tmp_path / "actions", gh.url, repository=gh.repository, token=gh.token,
                           grant=grant_to(gh), extra_env={"MLOPS_GITHUB_BACKOFF_FACTOR": "0.01",
                                                          "MLOPS_GITHUB_SETTLE_SECONDS": "0",
                                                          "MLOPS_GITHUB_MAX_TRIES": "2",
                                                          "OMP_NUM_THREADS": "1"},  # 2 cores, shared
                           **runner_kwargs)
    return Harness(gh, runner)


@pytest.fixture
def harness(tmp_path) -> Iterator[Harness]:
    with GitHubStandIn() as gh:
        yield make_harness(gh, tmp_path)
