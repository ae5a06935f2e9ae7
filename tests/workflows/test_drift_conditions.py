"""drift.yml's step conditions, evaluated as the runner evaluates them: which source feeds the check, and that
retraining does not hang on reporting the issue."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.actions_runner import condition

STEPS = {step.get("name"): step.get("if") for step in yaml.safe_load(
    (Path(__file__).resolve().parents[2] / ".github/workflows/drift.yml").read_text())["jobs"]["drift"]["steps"]}
FETCH, SIMULATE = "Get recent production data", "Simulate a drifted production batch"
ISSUE = "Open or update the drift issue"
DISPATCH = next(name for name in STEPS if name and name.startswith("Dispatch retraining"))


def _runs(step: str, *, url: str, inputs: dict, drifted: str = "true", failed: bool = False) -> bool:
    contexts = {"vars": {"PRODUCTION_DATA_URL": url}, "inputs": inputs,
                "steps": {"champion": {"outputs": {"found": "true"}}, "verdict": {"outputs": {"drifted": drifted}}}}
    return condition(STEPS[step], contexts, {"success": not failed, "failure": failed, "always": True,
                                             "cancelled": False})


@pytest.mark.parametrize(("url", "inputs", "fetch", "simulate"), [
    ("https://data.example/log.jsonl", {}, True, False),                   # the schedule: production data
    ("https://data.example/log.jsonl", {"simulate": True}, False, True),   # asked to simulate: it does, only that
    ("", {"simulate": True}, False, True),                                 # a fresh fork's first try
])
def test_the_batch_comes_from_exactly_one_source(url: str, inputs: dict, fetch: bool, simulate: bool) -> None:
    assert (_runs(FETCH, url=url, inputs=inputs), _runs(SIMULATE, url=url, inputs=inputs)) == (fetch, simulate)


def test_retraining_is_dispatched_even_when_reporting_the_issue_failed() -> None:
    assert _runs(ISSUE, url="", inputs={"simulate": True}, failed=True) is False
    assert _runs(DISPATCH, url="", inputs={"simulate": True}, failed=True) is True
    assert _runs(DISPATCH, url="", inputs={"simulate": True}, drifted="false", failed=True) is False
