"""The sticky PR comment: exactly one comment per PR and marker, updated in place on every run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml.github.client import GitHubClient
from ml.github.markers import is_ours, with_marker

PERMISSION = "`pull-requests: write`"


@dataclass(frozen=True)
class CommentResult:
    action: str  # created | updated | unchanged
    comment_id: int
    url: str | None
    removed_duplicates: int = 0


def marked_comments(client: GitHubClient, number: int, marker: str) -> list[dict[str, Any]]:
    """Our comments on issue/PR `number` (a bot's, starting with the marker), oldest first, across every page."""
    found = [c for c in client.paginate(client.repo_url(f"/issues/{number}/comments"), permission=PERMISSION)
             if is_ours(c, marker)]
    return sorted(found, key=lambda c: c["id"])


def upsert_sticky_comment(client: GitHubClient, number: int, body: str, marker: str) -> CommentResult:
    """Update our marked comment on PR `number`, or create it; leave exactly one behind."""
    body = with_marker(body, marker)
    ours = marked_comments(client, number, marker)
    if ours:
        return _settle(client, ours, body, "updated")
    created = client.write_once(
        "POST", client.repo_url(f"/issues/{number}/comments"), json={"body": body}, permission=PERMISSION,
        what=f"commenting on PR #{number}", find=lambda: marked_comments(client, number, marker) or None,
    )
    # Look once more: a concurrent run may have created its own comment at the same time.
    ours = marked_comments(client, number, marker) or (created if isinstance(created, list) else [created])
    return _settle(client, ours, body, "created")


def _settle(client: GitHubClient, ours: list[dict[str, Any]], body: str, action: str) -> CommentResult:
    """Keep the oldest marked comment with the latest body; delete the others (every racer keeps the same one)."""
    keep, extras = ours[0], ours[1:]
    if keep.get("body") != body:
        keep = client.request("PATCH", client.repo_url(f"/issues/comments/{keep['id']}"), json={"body": body},
                              permission=PERMISSION).json()
    elif action == "updated":
        action = "unchanged"
    for extra in extras:
        client.request("DELETE", client.repo_url(f"/issues/comments/{extra['id']}"), ok=(404,),
                       permission=PERMISSION)
    return CommentResult(action, keep["id"], keep.get("html_url"), len(extras))
