"""Trigger a workflow_dispatch run (e.g. retraining) exactly once, and report the run when GitHub says which."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ml.github.client import GitHubClient
from ml.github.errors import GitHubError

PERMISSION = "`actions: write`"
MAX_INPUTS = 25  # GitHub's limit on workflow_dispatch inputs
UNFINISHED = frozenset({"requested", "queued", "pending", "waiting", "in_progress"})  # a run's status until completed


@dataclass(frozen=True)
class DispatchResult:
    run_id: int | None
    html_url: str | None


def parse_inputs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """key=value strings into the inputs object; a malformed or repeated key is an error."""
    inputs: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise GitHubError(f"--input must look like key=value, got {pair!r}")
        if key in inputs:
            raise GitHubError(f"--input {key} is given twice")
        inputs[key] = value
    if len(inputs) > MAX_INPUTS:
        raise GitHubError(f"GitHub accepts at most {MAX_INPUTS} workflow inputs, got {len(inputs)}")
    return inputs


def dispatch_body(ref: str, inputs: dict[str, str]) -> dict[str, Any]:
    return {"ref": ref, "inputs": inputs, "return_run_details": True}


def dispatch_workflow(client: GitHubClient, workflow: str, ref: str, inputs: dict[str, str]) -> DispatchResult:
    """POST the dispatch; GitHub answers 204 (no details) or 200 with the run. A lost answer is checked
    against the workflow's dispatch runs before trying again, so one call makes one run."""
    base = client.repo_url(f"/actions/workflows/{quote(workflow, safe='')}")
    before = _dispatch_run_ids(client, base)

    def find() -> dict[str, Any] | None:
        runs = [r for r in _dispatch_runs(client, base) if r["id"] not in before]
        return max(runs, key=lambda r: r["id"]) if runs else None

    answer = client.write_once("POST", f"{base}/dispatches", json=dispatch_body(ref, inputs), find=find,
                               what=f"dispatching {workflow} on {ref}", permission=PERMISSION)
    if "workflow_run_id" in answer:
        return DispatchResult(answer["workflow_run_id"], answer.get("html_url"))
    if "id" in answer:  # found by find(): the run our lost attempt started
        return DispatchResult(answer["id"], answer.get("html_url"))
    return DispatchResult(None, None)


def unfinished_dispatch_run(client: GitHubClient, workflow: str) -> dict[str, Any] | None:
    """The newest workflow_dispatch run of `workflow` that has not completed yet, or None."""
    base = client.repo_url(f"/actions/workflows/{quote(workflow, safe='')}")
    return next((run for run in _dispatch_runs(client, base) if run.get("status") in UNFINISHED), None)


def _dispatch_runs(client: GitHubClient, base: str) -> list[dict[str, Any]]:
    """The newest page of this workflow's workflow_dispatch runs (new runs appear first)."""
    page = client.get_json(f"{base}/runs", {"event": "workflow_dispatch", "per_page": 100}, permission=PERMISSION)
    return list(page.get("workflow_runs") or [])


def _dispatch_run_ids(client: GitHubClient, base: str) -> set[int]:
    return {r["id"] for r in _dispatch_runs(client, base)}
