"""GitHub Releases as the model registry: release `model-vN` holds version N's bundle as assets.

Champion = the newest published (non-draft), non-prerelease `model-vN` release that has every bundle asset.
Publishing goes through a draft, so a half-uploaded version is never visible; rollback marks the champion's
release as prerelease, which keeps its history and can be undone in the GitHub UI.

GitHub lets drafts share a tag and offers no lock, so two people promoting at once both reach a draft of the same
version: the earlier draft wins (GitHub numbers releases in the order it creates them), the later one steps back
before uploading, and checks once more before publishing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml.bundle import ARTIFACT, CARD, METADATA, REFERENCE, parse_metadata, replace_dir, verify_artifact
from ml.errors import IntegrityError, RegistryError
from ml.fileio import staging_dir
from ml.github import releases
from ml.github.client import GitHubClient
from ml.github.errors import GitHubError
from ml.registry.base import ModelVersion, Registry, require_version
from ml.registry.publishers import ABANDONED_AFTER, Publisher, abandoned

CONTENT_TYPES = {ARTIFACT: "application/octet-stream", METADATA: "application/json", CARD: "text/markdown",
                 REFERENCE: "application/json"}
REQUIRED = (ARTIFACT, METADATA, CARD)
_TAG = re.compile(r"^model-v(\d+)$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def tag_for(version: int) -> str:
    return f"model-v{version}"


def version_of(release: Mapping[str, Any]) -> int | None:
    match = _TAG.match(release.get("tag_name") or "")
    return int(match.group(1)) if match else None


def release_body(metadata: dict[str, Any], card: str) -> str:
    """The model card, plus the metrics as a table when the card does not already show them all."""
    metrics = metadata.get("metrics") or {}
    body = card.strip() or f"# Model v{metadata.get('version')}"
    missing = {k: v for k, v in metrics.items() if f"| {k} |" not in body}
    if missing:
        rows = "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, int | float) else f"| {k} | {v} |"
                         for k, v in missing.items())
        body += f"\n\n## Metrics\n\n| metric | value |\n| --- | ---: |\n{rows}\n"
    return body + f"\n\n<!-- mlops-template:model-release artifact_sha256={metadata.get('artifact_sha256')} -->\n"


class GitHubReleasesRegistry(Registry):
    def __init__(self, client: GitHubClient):
        self.client = client
        self._metadata_cache: dict[int, dict[str, Any]] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubReleasesRegistry:
        return cls(GitHubClient.from_env(env))

    def __repr__(self) -> str:
        return f"GitHubReleasesRegistry({self.client.settings.repository})"

    def __str__(self) -> str:
        return f"{self.client.settings.repository} releases"

    # -- reading ----------------------------------------------------------------------------------------

    def _published(self) -> dict[int, dict[str, Any]]:
        """Published model releases by version (prereleases, i.e. rolled-back versions, included)."""
        found = {}
        for release in releases.all_releases(self.client):
            version = version_of(release)
            if version is not None and not release.get("draft"):
                found[version] = release
        return found

    def _complete(self) -> dict[int, dict[str, Any]]:
        return {v: r for v, r in sorted(self._published().items()) if not _missing_assets(r)}

    def _metadata(self, release: dict[str, Any]) -> dict[str, Any]:
        asset = _assets(release)[METADATA]
        if asset["id"] not in self._metadata_cache:
            with tempfile.TemporaryDirectory(prefix="registry-meta-") as scratch:
                path = Path(scratch) / METADATA
                releases.download_asset(self.client, asset, path)
                where = f"release {release.get('tag_name')}: {METADATA}"
                try:
                    text = path.read_text(encoding="utf-8")
                except ValueError:
                    raise IntegrityError(f"{where}: not UTF-8 text") from None
                self._metadata_cache[asset["id"]] = parse_metadata(text, where)
        return self._metadata_cache[asset["id"]]

    def versions(self) -> list[ModelVersion]:
        return [ModelVersion(v, self._metadata(r)) for v, r in self._complete().items()]

    def next_version(self) -> int:
        """One past every published version and every model-vN tag: a release deleted by hand leaves its tag, and
        publishing onto it would attach the new model to the old commit (GitHub ignores target_commitish then)."""
        tagged = {version_of({"tag_name": name}) for name in releases.tag_names(self.client)} - {None}
        taken = set(self._published()) | tagged
        return max(taken) + 1 if taken else 1

    def _champion_release(self, complete: dict[int, dict[str, Any]]) -> tuple[int, dict[str, Any]] | None:
        serving = [(v, r) for v, r in complete.items() if not r.get("prerelease")]
        return max(serving, key=lambda item: item[0]) if serving else None

    def champion(self) -> ModelVersion | None:
        found = self._champion_release(self._complete())
        return ModelVersion(found[0], self._metadata(found[1])) if found else None

    def fetch(self, version: int, dest: Path) -> Path:
        release = self._published().get(version)
        if release is None:
            raise RegistryError(f"model v{version} is not among the releases of {self.client.settings.repository}")
        missing = _missing_assets(release)
        if missing:
            raise RegistryError(f"release {release['tag_name']} lacks {', '.join(missing)}")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_dir(dest.parent, f".{dest.name}.fetch-")
        try:
            for name, asset in _assets(release).items():
                if name in CONTENT_TYPES:
                    releases.download_asset(self.client, asset, staging / name)
            require_version(verify_artifact(staging), version, f"release {release['tag_name']}")
            replace_dir(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return dest

    # -- writing ----------------------------------------------------------------------------------------

    def publish(self, bundle_dir: Path) -> ModelVersion:
        bundle_dir, metadata, version = self.checked_for_publish(bundle_dir)
        missing = [name for name in REQUIRED if not (bundle_dir / name).is_file()]
        if missing:
            raise RegistryError(f"{bundle_dir}: missing {', '.join(missing)}; cannot publish")
        files = [bundle_dir / name for name in CONTENT_TYPES if (bundle_dir / name).is_file()]
        _check_sizes(files)
        self._delete_abandoned_drafts()
        card = (bundle_dir / CARD).read_text(encoding="utf-8")
        body = release_body(metadata, card)
        commit = str(metadata.get("git_commit") or "")
        draft = releases.create_draft(self.client, tag_for(version), f"model v{version}", body,
                                      commit if _SHA.match(commit) else None, Publisher.this_process().marker)
        try:
            self._contest(draft, version)  # before uploading gigabytes for nothing
            for path in files:
                releases.upload_asset(self.client, draft, path, CONTENT_TYPES[path.name])
            _check_uploaded(releases.list_assets(self.client, draft["id"]), files, metadata)
            self._contest(draft, version)
            releases.publish_draft(self.client, draft["id"], body)
        except Exception as exc:
            cleanup = self._discard(draft)
            raise RegistryError(f"publishing v{version} failed ({exc}); {cleanup}") from None
        except BaseException:
            self._discard(draft)
            raise
        return ModelVersion(version, metadata)

    def _delete_abandoned_drafts(self) -> None:
        """Drafts left by publishes that were killed; one still being uploaded to is another publish's own."""
        for release in releases.all_releases(self.client):
            if release.get("draft") and version_of(release) is not None and abandoned(release):
                releases.delete_release(self.client, release["id"])

    def _contest(self, draft: dict[str, Any], version: int) -> None:
        """Refuse to go on when another publish of this version is ahead: it published, or its draft came first."""
        for release in releases.all_releases(self.client):
            if release.get("tag_name") != draft["tag_name"] or release["id"] == draft["id"]:
                continue
            if not release.get("draft"):
                raise RegistryError(f"another promotion published v{version} meanwhile; compare with it and "
                                    "promote again")
            if release["id"] < draft["id"]:
                raise RegistryError(f"another promotion is publishing v{version} (draft release {release['id']}, "
                                    "made first); compare with its result and promote again, or delete that draft "
                                    "if that promotion died")

    def _discard(self, draft: dict[str, Any]) -> str:
        try:
            releases.delete_release(self.client, draft["id"])
        except GitHubError:
            return (f"the draft release could not be deleted; drafts never become champion, and a later publish "
                    f"deletes it once this process has exited (from another machine: {ABANDONED_AFTER // 3600} h on)")
        return "the draft release was deleted, the champion is unchanged"

    def rollback(self) -> ModelVersion:
        complete = self._complete()
        current = self._champion_release(complete)
        if current is None:
            raise RegistryError("nothing to roll back: there is no champion yet")
        older = [(v, r) for v, r in complete.items() if v < current[0] and not r.get("prerelease")]
        if not older:
            raise RegistryError(f"nothing to roll back to: v{current[0]} is the oldest serving version")
        version, release = older[-1]
        metadata = self._metadata(release)
        require_version(metadata, version, f"release {release['tag_name']}")
        _check_digest(_assets(release)[ARTIFACT], metadata, release)
        releases.update_release(self.client, current[1]["id"], prerelease=True)
        releases.update_release(self.client, release["id"], make_latest="true")
        return ModelVersion(version, metadata)


def _assets(release: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in release.get("assets") or [] if a.get("state", "uploaded") == "uploaded"}


def _missing_assets(release: Mapping[str, Any]) -> list[str]:
    present = _assets(release)
    return [name for name in REQUIRED if name not in present]


def _check_sizes(files: list[Path]) -> None:
    """GitHub refuses an asset of 2 GiB or more only once it is uploaded: refuse it before anything is written."""
    for path in files:
        size = path.stat().st_size
        if size >= releases.MAX_ASSET:
            raise RegistryError(f"{path}: {size} bytes ({size / 1024 ** 3:.2f} GiB); GitHub release assets must be "
                                "under 2 GiB, so this bundle cannot be published to GitHub Releases")


def _check_uploaded(assets: list[dict[str, Any]], files: list[Path], metadata: dict[str, Any]) -> None:
    by_name = _assets({"assets": assets})
    for path in files:
        asset = by_name.get(path.name)
        if asset is None or asset.get("size") != path.stat().st_size:
            raise RegistryError(f"{path.name} is missing or incomplete on the release after upload")
    _check_digest(by_name[ARTIFACT], metadata, {"tag_name": "the new release"})


def _check_digest(asset: Mapping[str, Any], metadata: Mapping[str, Any], release: Mapping[str, Any]) -> None:
    """GitHub reports `digest: sha256:…` for assets; when present it must match the metadata."""
    digest = asset.get("digest")
    if digest and digest != f"sha256:{metadata.get('artifact_sha256')}":
        raise IntegrityError(f"release {release.get('tag_name')}: {ARTIFACT} digest {digest[:19]}… does not match "
                             f"metadata; refusing to use it")
