"""Fixtures for the GitHub layer: a running stand-in, a fast-retrying client, script runs, small model bundles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ml.bundle import save_bundle
from ml.fileio import write_json_atomic, write_text_atomic
from ml.github.client import GitHubClient
from ml.github.settings import GitHubSettings, RetryPolicy
from tests.conftest import ScriptRun, run_script, script_env
from tests.support.github_standin import GitHubStandIn

FAST = RetryPolicy(max_tries=6, backoff_factor=0.01, max_wait=0.5, time_budget=30.0, settle_seconds=0.0,
                   rate_limit_wait=0.01)


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    """A running stand-in; every test ends by checking that no request broke GitHub's published API."""
    with GitHubStandIn() as standin:
        yield standin
        assert standin.violations == [], "requests that do not fit ghapi.gh_spec:\n" + "\n".join(standin.violations)


def client_for(standin: GitHubStandIn, policy: RetryPolicy = FAST, token: str | None = None) -> GitHubClient:
    return GitHubClient(GitHubSettings(standin.url, standin.repository, token or standin.token, policy))


@pytest.fixture
def client(gh: GitHubStandIn) -> Iterator[GitHubClient]:
    with client_for(gh) as github:
        yield github


def run_gh(standin: GitHubStandIn, script: str, *args: str, cwd: Path, **env: str) -> ScriptRun:
    """Run a GitHub script against the stand-in and check the token never shows in its output."""
    run = run_script(script, *args, cwd=cwd, env=script_env(**{**standin.env(), **env}))
    assert standin.token not in run.stdout + run.stderr, run.describe()
    return run


def make_bundle(directory: Path, version: int | None, seed: int = 0, reference: bool = False) -> Path:
    """A small bundle: a 200 kB artifact (streams in several chunks), metadata with metrics, a model card."""
    rng = np.random.default_rng(seed)
    metadata = {"task": "classification", "version": version, "git_commit": "a" * 40,
                "metrics": {"roc_auc": 0.8 + seed / 100, "log_loss": 0.4}, "features": [], "classes": [0, 1]}
    save_bundle({"weights": rng.random(25_000)}, metadata, directory)
    card = (f"# Model card: churn-model v{version}\n\n| metric | value |\n| --- | ---: |\n"
            f"| roc_auc | {0.8 + seed / 100} |\n")
    write_text_atomic(directory / "model_card.md", card)
    if reference:
        write_json_atomic(directory / "reference.json", {"columns": {"tenure_months": {"mean": 30 + seed}}})
    return directory
