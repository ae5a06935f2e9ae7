"""Which pull request a commit on main came from, so the model release can name it (release.yml)."""

from __future__ import annotations

from ml.github.client import GitHubClient

PERMISSION = "`pull-requests: read`"


def merged_pull_for_commit(client: GitHubClient, sha: str) -> int | None:
    """The merged PR whose merge (or squash/rebase) commit is `sha`; None for a direct push.

    Asks GitHub's commit → PRs association; when several merged PRs contain the commit, the one whose
    merge_commit_sha is exactly `sha` wins, else the most recently merged.
    """
    sha = sha.strip().lower()
    pulls = [p for p in client.paginate(client.repo_url(f"/commits/{sha}/pulls"), permission=PERMISSION)
             if p.get("merged_at")]
    exact = [p for p in pulls if str(p.get("merge_commit_sha", "")).lower() == sha]
    chosen = exact or sorted(pulls, key=lambda p: p["merged_at"], reverse=True)
    return chosen[0]["number"] if chosen else None
