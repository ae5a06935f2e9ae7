"""Propose changed files as a pull request through the Git data API (retrain.yml).

Going through the API, not `git push`, means the checkout never keeps a credential (persist-credentials: false)
and the commit is made by the token's identity (GITHUB_TOKEN or a GitHub App), which decides whether pull_request
workflows run on the PR: a GITHUB_TOKEN PR does not trigger them, an App token PR does.

Creating the branch and opening the PR are the writes GitHub may apply and then fail to answer (a 502, a dropped
connection); both go through `write_once`, so a lost answer is looked up, and GitHub's 422 "already exists" on the
next attempt is recognised as our own write. A branch that points at any other commit is not ours and is never moved.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ml.github.client import GitHubClient
from ml.github.errors import GitHubError

PERMISSION = "`contents: write` and `pull-requests: write`"
READ_PERMISSION = "`contents: read`"


@dataclass(frozen=True)
class ProposedPull:
    number: int
    url: str | None
    branch: str
    commit_sha: str


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str  # added, modified or unchanged, against the base commit


def propose_pull_request(client: GitHubClient, base_branch: str, base_sha: str, branch: str, title: str,
                         body: str, files: Mapping[str, bytes], message: str) -> ProposedPull:
    """One commit on `branch` (new, from base_sha) holding `files`, and a PR from it into base_branch."""
    tree = []
    for path, content in sorted(files.items()):
        blob = client.request("POST", client.repo_url("/git/blobs"), permission=PERMISSION, json={
            "content": base64.b64encode(content).decode("ascii"), "encoding": "base64"}).json()
        tree.append({"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]})
    base_tree = client.get_json(client.repo_url(f"/git/commits/{base_sha}"), permission=PERMISSION)["tree"]["sha"]
    new_tree = client.request("POST", client.repo_url("/git/trees"), permission=PERMISSION,
                              json={"base_tree": base_tree, "tree": tree}).json()
    commit = client.request("POST", client.repo_url("/git/commits"), permission=PERMISSION, json={
        "message": message, "tree": new_tree["sha"], "parents": [base_sha]}).json()
    client.write_once(
        "POST", client.repo_url("/git/refs"), permission=PERMISSION, what=f"creating branch {branch}",
        json={"ref": f"refs/heads/{branch}", "sha": commit["sha"]}, exists_status=422,
        find=lambda: _branch_made_by_us(client, branch, commit["sha"]),
    )
    try:
        pull = client.write_once(
            "POST", client.repo_url("/pulls"), permission=PERMISSION, what=f"opening a PR from {branch}",
            json={"title": title, "body": body, "head": branch, "base": base_branch}, exists_status=422,
            find=lambda: _open_pull_from(client, branch),
        )
    except GitHubError as exc:
        if exc.status is None or exc.status >= 500 or "already exists" in str(exc):
            raise  # GitHub has (or may yet show) the PR: the branch it comes from stays, or deleting it closes it
        raise GitHubError(f"{exc}; {_delete_branch(client, branch)}", exc.status) from None
    return ProposedPull(pull["number"], pull.get("html_url"), branch, commit["sha"])


def _delete_branch(client: GitHubClient, branch: str) -> str:
    """Remove the branch this run just made for a PR GitHub refused outright (Actions not allowed to open PRs, a base
    that does not exist): each re-run would otherwise leave one more branch nobody asked for. Says what happened."""
    try:
        client.request("DELETE", client.repo_url(f"/git/refs/heads/{quote(branch, safe='/')}"), permission=PERMISSION,
                       ok=(422,))  # 422: it is gone already
    except GitHubError as exc:
        return f"branch {branch} is left behind: it could not be deleted ({exc})"
    return f"branch {branch} was deleted again"


def branch_head(client: GitHubClient, branch: str, permission: str = PERMISSION) -> str | None:
    """The commit `branch` points at, or None when the repository has no such branch."""
    response = client.request("GET", client.repo_url(f"/git/ref/heads/{quote(branch, safe='/')}"), ok=(404,),
                              permission=permission)
    return None if response.status_code == 404 else response.json()["object"]["sha"]


def branch_taken(branch: str, head: str, ours: str | None = None) -> GitHubError:
    made = f", not at the commit this run made ({ours[:12]})" if ours else ""
    return GitHubError(f"branch {branch} already exists at {head[:12]}{made}: it is not ours to overwrite; "
                       "choose another --branch or delete that branch if nobody needs it")


def _branch_made_by_us(client: GitHubClient, branch: str, sha: str) -> str | None:
    """The branch's head if it is our commit (an attempt whose answer was lost); another commit is someone else's."""
    head = branch_head(client, branch)
    if head is not None and head != sha:
        raise branch_taken(branch, head, sha)
    return head


def _open_pull_from(client: GitHubClient, branch: str) -> dict[str, Any] | None:
    """The open PR whose head is `branch` of this repository (GitHub allows one per head and base)."""
    pulls = client.paginate(client.repo_url("/pulls"), {"head": f"{client.settings.owner}:{branch}", "state": "open"},
                            permission=PERMISSION)
    return next(iter(pulls), None)


def changed_files(client: GitHubClient, base_sha: str, files: Mapping[str, bytes]) -> list[ChangedFile]:
    """How each file compares with the base commit, by Git blob SHA (nothing is downloaded); only reads."""
    tree_sha = client.get_json(client.repo_url(f"/git/commits/{base_sha}"), permission=READ_PERMISSION)["tree"]["sha"]
    listing = client.get_json(client.repo_url(f"/git/trees/{tree_sha}"), {"recursive": "1"}, READ_PERMISSION)
    blobs = {entry["path"]: entry["sha"] for entry in listing["tree"] if entry.get("type") == "blob"}
    absent = "added or modified (the base tree is too large to list)" if listing.get("truncated") else "added"
    return [ChangedFile(path, absent if path not in blobs else
                        "unchanged" if blobs[path] == git_blob_sha(content) else "modified")
            for path, content in sorted(files.items())]


def git_blob_sha(content: bytes) -> str:
    """The SHA Git (and so GitHub) names this content by."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
