"""Find open pull requests: the one a head SHA belongs to (for workflow_run jobs that must not trust an artifact's PR
number), or one from a branch family such as retrain/ (so drift.yml does not propose a second retraining)."""

from __future__ import annotations

from typing import Any

from ml.github.client import GitHubClient
from ml.github.errors import GitHubError

PERMISSION = "`pull-requests: read`"


def open_pulls_for_sha(client: GitHubClient, sha: str, head_label: str | None = None) -> list[int]:
    """Numbers of the open PRs whose head commit is `sha`.

    Asks the commit's associated PRs first; falls back to the open PR list (filtered by `owner:branch` when
    given), which also covers fork PRs the commit endpoint does not always report.
    """
    sha = sha.strip().lower()
    associated = list(client.paginate(client.repo_url(f"/commits/{sha}/pulls"), permission=PERMISSION))
    numbers = _heads(associated, sha)
    if not numbers:
        params = {"state": "open", **({"head": head_label} if head_label else {})}
        numbers = _heads(client.paginate(client.repo_url("/pulls"), params, permission=PERMISSION), sha)
    if not numbers:
        moved = [p for p in associated if p.get("state") == "open"]
        if moved:
            raise GitHubError(f"PR #{moved[0]['number']} has moved on from {sha[:12]} (its head is now "
                              f"{moved[0]['head']['sha'][:12]}): this report is outdated, not posting it")
    return numbers


def open_pull_from_branches(client: GitHubClient, prefix: str) -> dict[str, Any] | None:
    """An open PR whose head branch starts with `prefix` in this repository (a fork's branch of that name is someone
    else's), or None."""
    ours = client.settings.repository.lower()
    for pull in client.paginate(client.repo_url("/pulls"), {"state": "open"}, permission=PERMISSION):
        head = pull.get("head") or {}
        if head.get("ref", "").startswith(prefix) and ((head.get("repo") or {}).get("full_name") or "").lower() == ours:
            return pull
    return None


def resolve_pull(client: GitHubClient, sha: str, claimed: int | None = None, head_label: str | None = None) -> int:
    """The PR for `sha`; a claimed number (e.g. from an artifact) must be one of that SHA's PRs."""
    numbers = open_pulls_for_sha(client, sha, head_label)
    if not numbers:
        raise GitHubError(f"no open pull request has head commit {sha[:12]} in {client.settings.repository}")
    if claimed is not None:
        if claimed not in numbers:
            raise GitHubError(f"PR #{claimed} does not have head commit {sha[:12]} (that commit heads "
                              f"{_list(numbers)}); refusing to post on a PR number that may be forged")
        return claimed
    if len(numbers) > 1:
        raise GitHubError(f"commit {sha[:12]} heads several open PRs ({_list(numbers)}); pass --pr to pick one")
    return numbers[0]


def _heads(pulls: Any, sha: str) -> list[int]:
    return sorted({p["number"] for p in pulls
                   if p.get("state") == "open" and (p.get("head") or {}).get("sha", "").lower() == sha})


def _list(numbers: list[int]) -> str:
    return ", ".join(f"#{n}" for n in numbers)
