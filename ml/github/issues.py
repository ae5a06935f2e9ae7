"""The drift issue: one open issue (label + marker) that collects every drift report as a follow-up comment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ml.github.client import GitHubClient
from ml.github.errors import GitHubError
from ml.github.markers import is_ours, new_nonce, with_marker

PERMISSION = "`issues: write`"
LABEL_COLOR = "d93f0b"
LABEL_DESCRIPTION = "Data drift reports from the drift workflow"


class IssuesDisabledError(GitHubError):
    """The repository has Issues turned off (the default on a fork): there is nowhere to report drift."""


@dataclass(frozen=True)
class IssueResult:
    action: str  # created | commented
    number: int
    url: str | None
    comment_url: str | None = None
    closed_duplicates: int = 0


def open_marked_issues(client: GitHubClient, label: str, marker: str) -> list[dict[str, Any]]:
    """Our open issues with the label (a bot's, starting with the marker), oldest first; pull requests skipped."""
    issues = client.paginate(client.repo_url("/issues"), {"state": "open", "labels": label}, permission=PERMISSION)
    found = [i for i in issues if "pull_request" not in i and is_ours(i, marker)]
    return sorted(found, key=lambda i: i["number"])


def report_to_issue(client: GitHubClient, report: str, *, title: str, label: str, marker: str) -> IssueResult:
    """Comment the report on the open drift issue, or open one carrying it; never leave two open."""
    nonce = new_nonce("drift-report")
    ours = open_marked_issues(client, label, marker)
    if not ours:
        ensure_label(client, label)
        body = with_marker(f"{nonce}\n{report}", marker)
        try:
            created = client.write_once(
                "POST", client.repo_url("/issues"), json={"title": title, "body": body, "labels": [label]},
                permission=PERMISSION, what="opening the drift issue",
                find=lambda: open_marked_issues(client, label, marker) or None,
            )
        except GitHubError as exc:
            if exc.status == 410:  # GitHub's answer when Issues are turned off
                raise IssuesDisabledError(f"{client.settings.repository} has Issues turned off, so no drift issue "
                                          "was opened (turn them on: Settings → General → Features → Issues)",
                                          410) from None
            raise
        ours = open_marked_issues(client, label, marker) or (created if isinstance(created, list) else [created])
    keep, extras = ours[0], ours[1:]
    for extra in extras:  # a concurrent run opened its own: every racer keeps the oldest
        _close_duplicate(client, extra, keep)
    if nonce in (keep.get("body") or ""):
        return IssueResult("created", keep["number"], keep.get("html_url"), None, len(extras))
    comment = _comment_once(client, keep["number"], report, nonce)
    return IssueResult("commented", keep["number"], keep.get("html_url"), comment.get("html_url"), len(extras))


def ensure_label(client: GitHubClient, label: str) -> None:
    """Create the label if the repository lacks it: GitHub may drop an unknown label from a new issue, and an
    issue without it would never be found again (each run would open another)."""
    if _label(client, label) is not None:
        return
    client.write_once("POST", client.repo_url("/labels"),
                      json={"name": label, "color": LABEL_COLOR, "description": LABEL_DESCRIPTION},
                      permission=PERMISSION, what=f"creating the {label!r} label",
                      find=lambda: _label(client, label), exists_status=422)  # already_exists: a concurrent run


def _label(client: GitHubClient, name: str) -> dict[str, Any] | None:
    response = client.request("GET", client.repo_url(f"/labels/{quote(name, safe='')}"), ok=(404,),
                              permission=PERMISSION)
    return None if response.status_code == 404 else response.json()


def _comment_once(client: GitHubClient, number: int, body: str, nonce: str) -> dict[str, Any]:
    """Post a comment carrying a one-off nonce, so a retry can see whether the failed attempt landed."""
    url = client.repo_url(f"/issues/{number}/comments")

    def find() -> dict[str, Any] | None:
        mine = [c for c in client.paginate(url, permission=PERMISSION) if is_ours(c, nonce)]
        return mine[0] if mine else None

    return client.write_once("POST", url, json={"body": with_marker(body, nonce)}, permission=PERMISSION,
                             what=f"commenting on issue #{number}", find=find)


def _close_duplicate(client: GitHubClient, duplicate: dict[str, Any], keep: dict[str, Any]) -> None:
    number = duplicate["number"]
    _comment_once(client, number, f"Duplicate of #{keep['number']}; reports continue there.",
                  new_nonce("drift-duplicate"))
    client.request("PATCH", client.repo_url(f"/issues/{number}"),
                   json={"state": "closed", "state_reason": "not_planned"}, permission=PERMISSION)
