"""GitHub Releases calls the model registry needs: drafts, asset uploads, publishing, listing, downloading."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ml.github.client import GitHubClient

PERMISSION = "`contents: write`"
MAX_BODY = 125000  # GitHub's limit on a release body
_TEMPLATE = re.compile(r"\{[^}]*\}$")


def all_releases(client: GitHubClient) -> list[dict[str, Any]]:
    """Every release, drafts included (the token needs push access to see drafts)."""
    return list(client.paginate(client.repo_url("/releases"), permission=PERMISSION))


def tag_names(client: GitHubClient) -> list[str]:
    """Every git tag of the repository: a deleted release leaves its tag behind."""
    return [tag["name"] for tag in client.paginate(client.repo_url("/tags"), permission="`contents: read`")]


def drafts_for_tag(client: GitHubClient, tag: str) -> list[dict[str, Any]]:
    return [r for r in all_releases(client) if r.get("draft") and r.get("tag_name") == tag]


def create_draft(client: GitHubClient, tag: str, name: str, body: str, target: str | None) -> dict[str, Any]:
    """A draft release: invisible as champion, and no git tag until it is published."""
    payload: dict[str, Any] = {"tag_name": tag, "name": name, "body": body[:MAX_BODY], "draft": True,
                               "prerelease": False}
    if target:
        payload["target_commitish"] = target
    found = client.write_once("POST", client.repo_url("/releases"), json=payload, permission=PERMISSION,
                              what=f"creating release {tag}", find=lambda: _first(drafts_for_tag(client, tag)))
    return found


def list_assets(client: GitHubClient, release_id: int) -> list[dict[str, Any]]:
    return list(client.paginate(client.repo_url(f"/releases/{release_id}/assets"), permission=PERMISSION))


def upload_asset(client: GitHubClient, release: dict[str, Any], path: Path, content_type: str) -> dict[str, Any]:
    """Upload one file to the release's upload_url; a lost answer is checked against the asset list first."""
    data = path.read_bytes()
    url = _TEMPLATE.sub("", release["upload_url"])

    def find() -> dict[str, Any] | None:
        for asset in list_assets(client, release["id"]):
            if asset.get("name") != path.name:
                continue
            if asset.get("state") == "uploaded" and asset.get("size") == len(data):
                return asset
            delete_asset(client, asset["id"])  # a broken partial upload blocks the name: clear it, then resend
        return None

    return client.write_once("POST", url, params={"name": path.name}, data=data,
                             headers={"Content-Type": content_type}, find=find, permission=PERMISSION,
                             what=f"uploading {path.name} to release {release.get('tag_name')}")


def delete_asset(client: GitHubClient, asset_id: int) -> None:
    client.request("DELETE", client.repo_url(f"/releases/assets/{asset_id}"), ok=(404,), permission=PERMISSION)


def update_release(client: GitHubClient, release_id: int, **fields: Any) -> dict[str, Any]:
    return client.request("PATCH", client.repo_url(f"/releases/{release_id}"), json=fields,
                          permission=PERMISSION).json()


def delete_release(client: GitHubClient, release_id: int) -> None:
    client.request("DELETE", client.repo_url(f"/releases/{release_id}"), ok=(404,), permission=PERMISSION)


def download_asset(client: GitHubClient, asset: dict[str, Any], dest: Path) -> int:
    return client.download(asset["url"], dest, permission="`contents: read`")


def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None
