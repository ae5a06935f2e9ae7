"""GitHub Releases calls the model registry needs: drafts, asset uploads, publishing, listing, downloading."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ml.github.client import GitHubClient

PERMISSION = "`contents: write`"
MAX_BODY = 125000  # GitHub's limit on a release body
MAX_ASSET = 2 * 1024 ** 3  # GitHub: each file included in a release must be under 2 GiB
_TEMPLATE = re.compile(r"\{[^}]*\}$")


def all_releases(client: GitHubClient) -> list[dict[str, Any]]:
    """Every release, drafts included (the token needs push access to see drafts)."""
    return list(client.paginate(client.repo_url("/releases"), permission=PERMISSION))


def tag_names(client: GitHubClient) -> list[str]:
    """Every git tag of the repository: a deleted release leaves its tag behind."""
    return [tag["name"] for tag in client.paginate(client.repo_url("/tags"), permission="`contents: read`")]


def create_draft(client: GitHubClient, tag: str, name: str, body: str, target: str | None,
                 marker: str) -> dict[str, Any]:
    """A draft release: invisible as champion, and no git tag until it is published. Drafts may share a tag, so
    the body ends with `marker`, unique to this write: it tells a retry which draft is its own."""
    payload: dict[str, Any] = {"tag_name": tag, "name": name, "body": f"{body[:MAX_BODY - len(marker) - 1]}\n{marker}",
                               "draft": True, "prerelease": False}
    if target:
        payload["target_commitish"] = target

    def find() -> dict[str, Any] | None:
        return next((r for r in all_releases(client) if r.get("draft") and r.get("tag_name") == tag
                     and marker in (r.get("body") or "")), None)

    return client.write_once("POST", client.repo_url("/releases"), json=payload, permission=PERMISSION,
                             what=f"creating release {tag}", find=find)


def publish_draft(client: GitHubClient, release_id: int, body: str) -> dict[str, Any]:
    """Publish a draft as the latest release, its body without the draft's marker (only rival publishes read it)."""
    return update_release(client, release_id, draft=False, make_latest="true", body=body[:MAX_BODY])


def list_assets(client: GitHubClient, release_id: int) -> list[dict[str, Any]]:
    return list(client.paginate(client.repo_url(f"/releases/{release_id}/assets"), permission=PERMISSION))


def upload_asset(client: GitHubClient, release: dict[str, Any], path: Path, content_type: str) -> dict[str, Any]:
    """Stream one file to the release's upload_url (a model may not fit in memory twice); a lost answer is checked
    against the asset list first, and every attempt sends the file from its start (GitHubClient.send)."""
    size = path.stat().st_size
    url = _TEMPLATE.sub("", release["upload_url"])

    def find() -> dict[str, Any] | None:
        for asset in list_assets(client, release["id"]):
            if asset.get("name") != path.name:
                continue
            if asset.get("state") == "uploaded" and asset.get("size") == size:
                return asset
            delete_asset(client, asset["id"])  # a broken partial upload blocks the name: clear it, then resend
        return None

    with open(path, "rb") as data:
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
