"""Propose changed files as a pull request through the Git data API (retrain.yml).

Going through the API, not `git push`, means the checkout never keeps a credential (persist-credentials: false)
and the commit is made by the token's identity (GITHUB_TOKEN or a GitHub App), which decides whether pull_request
workflows run on the PR: a GITHUB_TOKEN PR does not trigger them, an App token PR does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from ml.github.client import GitHubClient

PERMISSION = "`contents: write` and `pull-requests: write`"


@dataclass(frozen=True)
class ProposedPull:
    number: int
    url: str | None
    branch: str
    commit_sha: str


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
    client.request("POST", client.repo_url("/git/refs"), permission=PERMISSION,
                   json={"ref": f"refs/heads/{branch}", "sha": commit["sha"]})
    pull = client.write_once(
        "POST", client.repo_url("/pulls"), permission=PERMISSION, what=f"opening a PR from {branch}",
        json={"title": title, "body": body, "head": branch, "base": base_branch},
        find=lambda: next(iter(client.paginate(client.repo_url("/pulls"), {"head": f"{client.settings.owner}:{branch}",
                                                                           "state": "open"})), None),
    )
    return ProposedPull(pull["number"], pull.get("html_url"), branch, commit["sha"])
