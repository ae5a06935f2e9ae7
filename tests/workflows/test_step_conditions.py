"""Step conditions, evaluated as the runner evaluates them, for the cases one harness run cannot show: which source
feeds the drift check, that retraining does not hang on reporting the issue, and where the image is attested."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.actions_runner import condition

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _steps(workflow: str, job: str) -> dict[str, object]:
    """Each step's `if:`, by its name (or its action without the pin)."""
    steps = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["steps"]
    return {step.get("name") or step.get("uses", "").split("@")[0]: step.get("if") for step in steps}


STEPS = _steps("drift.yml", "drift")
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


@pytest.mark.parametrize(("visibility", "variable", "attests"), [
    ("public", "", True),
    ("private", "", False),      # attestations in private repositories need GitHub Enterprise Cloud
    ("private", "true", True),
    ("internal", "", False),
])
def test_the_image_is_attested_where_github_offers_it(visibility: str, variable: str, attests: bool) -> None:
    step = _steps("release.yml", "image")["actions/attest-build-provenance"]
    contexts = {"github": {"event": {"repository": {"visibility": visibility}}},
                "vars": {"ATTEST_PROVENANCE": variable}}
    assert condition(step, contexts, {"success": True, "failure": False, "always": True,
                                      "cancelled": False}) is attests
