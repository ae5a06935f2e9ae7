"""GitHub Releases as the model registry: round trip, integrity, all-or-nothing publish, rollback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ml.bundle import read_metadata, verify_artifact
from ml.errors import IntegrityError, RegistryError
from ml.fileio import sha256_file
from ml.github import releases
from ml.github.client import GitHubClient
from ml.params import load_params
from ml.registry import open_registry
from ml.registry.github import GitHubReleasesRegistry
from ml.registry.publishers import ABANDONED_AFTER, Publisher, this_machine
from tests.conftest import REPO, script_env
from tests.github.conftest import client_for, make_bundle
from tests.support.github_standin import GitHubStandIn


@pytest.fixture
def registry(client: GitHubClient) -> GitHubReleasesRegistry:
    return GitHubReleasesRegistry(client)


def _publish(registry: GitHubReleasesRegistry, tmp_path: Path, seed: int, reference: bool = False) -> int:
    version = registry.next_version()
    registry.publish(make_bundle(tmp_path / f"bundle{seed}", version, seed, reference))
    return version


def test_round_trip_publish_fetch_list_rollback(gh: GitHubStandIn, registry: GitHubReleasesRegistry,
                                                tmp_path: Path) -> None:
    assert registry.champion() is None and registry.versions() == [] and registry.next_version() == 1
    assert _publish(registry, tmp_path, 1, reference=True) == 1
    assert _publish(registry, tmp_path, 2) == 2
    assert [v.name for v in registry.versions()] == ["v1", "v2"]
    champion = registry.champion()
    assert champion.version == 2 and champion.metadata["metrics"]["roc_auc"] == pytest.approx(0.82)

    release = next(r for r in gh.release_list() if r["tag_name"] == "model-v1")
    assert not release["draft"] and "roc_auc" in release["body"] and "# Model card" in release["body"]
    types = {a["name"]: a["content_type"] for a in release["assets"]}
    assert types == {"model.joblib": "application/octet-stream", "metadata.json": "application/json",
                     "model_card.md": "text/markdown", "reference.json": "application/json"}

    fetched = registry.fetch(1, tmp_path / "fetched")
    assert verify_artifact(fetched)["version"] == 1
    assert sha256_file(fetched / "model.joblib") == sha256_file(tmp_path / "bundle1" / "model.joblib")
    assert json.loads((fetched / "reference.json").read_text())["columns"]["tenure_months"]["mean"] == 31
    assert not any("Authorization" in r["headers"] for r in gh.storage_requests)
    assert len(gh.storage_requests) >= 4  # every asset went through the storage redirect

    assert registry.rollback().version == 1
    assert registry.champion().version == 1
    assert [v.version for v in registry.versions()] == [1, 2]  # history kept: v2 is a prerelease now
    assert next(r for r in gh.release_list() if r["tag_name"] == "model-v2")["prerelease"] is True
    with pytest.raises(RegistryError, match="oldest"):
        registry.rollback()
    assert _publish(registry, tmp_path, 3) == 3 and registry.champion().version == 3


def test_a_tampered_asset_is_refused_and_nothing_is_written(gh: GitHubStandIn, registry: GitHubReleasesRegistry,
                                                           tmp_path: Path) -> None:
    _publish(registry, tmp_path, 1)
    gh.tamper_asset("model-v1", "model.joblib", b"not the model that was promoted")
    dest = tmp_path / "fetched"
    with pytest.raises(IntegrityError, match="does not match"):
        registry.fetch(1, dest)
    assert not dest.exists() and list(tmp_path.glob(".fetched*")) == []


@pytest.mark.parametrize("metadata, says", [(b"[1, 2]", "expected a JSON object"), (b"{oops", "unreadable")])
def test_a_release_whose_metadata_is_not_a_metadata_object_is_refused_naming_it(
        gh: GitHubStandIn, registry: GitHubReleasesRegistry, tmp_path: Path, metadata: bytes, says: str) -> None:
    _publish(registry, tmp_path, 1)
    gh.tamper_asset("model-v1", "metadata.json", metadata)
    with pytest.raises(IntegrityError, match=f"release model-v1: metadata.json: {says}"):
        registry.champion()


def test_rollback_refuses_a_previous_version_whose_digest_does_not_match(
        gh: GitHubStandIn, registry: GitHubReleasesRegistry, tmp_path: Path) -> None:
    _publish(registry, tmp_path, 1)
    _publish(registry, tmp_path, 2)
    gh.tamper_asset("model-v1", "model.joblib", b"swapped")
    with pytest.raises(IntegrityError, match="digest"):
        registry.rollback()
    assert registry.champion().version == 2


def test_rollback_refuses_a_previous_version_whose_metadata_names_another(
        gh: GitHubStandIn, registry: GitHubReleasesRegistry, tmp_path: Path) -> None:
    """Its artifact is intact, so the digest agrees: the version number in its metadata must, too."""
    _publish(registry, tmp_path, 1)
    _publish(registry, tmp_path, 2)
    _publish(registry, tmp_path, 3)
    metadata = json.loads(gh.asset_bytes("model-v2", "metadata.json"))
    gh.tamper_asset("model-v2", "metadata.json", json.dumps({**metadata, "version": 1}).encode())
    with pytest.raises(IntegrityError, match="release model-v2: metadata.json says version 1, not 2"):
        registry.rollback()
    assert registry.champion().version == 3


@pytest.mark.parametrize("broken_op, skip", [("repos/upload_release_asset", 1), ("repos/update_release", 0)])
def test_a_publish_that_fails_halfway_leaves_no_champion(gh: GitHubStandIn, registry: GitHubReleasesRegistry,
                                                         tmp_path: Path, broken_op: str, skip: int) -> None:
    _publish(registry, tmp_path, 1)
    gh.fail("502-before", op=broken_op, skip=skip, times=None)  # e.g. the artifact uploads, then GitHub breaks
    with pytest.raises(RegistryError, match="publishing v2 failed.*champion is unchanged"):
        _publish(registry, tmp_path, 2)
    gh.clear_faults()
    assert [r["tag_name"] for r in gh.release_list()] == ["model-v1"]
    assert registry.champion().version == 1 and registry.next_version() == 2
    uploaded = sum(r.op == "repos/upload_release_asset" and r.status == 201 for r in gh.requests)
    assert uploaded == 3 + (1 if broken_op == "repos/upload_release_asset" else 3)  # v1's, then v2's before the break


def test_a_tag_left_by_a_deleted_release_is_skipped_not_reused(gh: GitHubStandIn, registry: GitHubReleasesRegistry,
                                                                client: GitHubClient, tmp_path: Path) -> None:
    """Someone deletes release model-v2 by hand; its tag stays. v2 again would hang the new model on the old commit."""
    _publish(registry, tmp_path, 1)
    _publish(registry, tmp_path, 2)
    releases.delete_release(client, next(r["id"] for r in gh.release_list() if r["tag_name"] == "model-v2"))
    assert registry.champion().version == 1

    assert registry.next_version() == 3
    assert _publish(registry, tmp_path, 3) == 3
    assert registry.champion().version == 3
    assert sorted(r["tag_name"] for r in gh.release_list()) == ["model-v1", "model-v3"]
    assert gh.violations == []


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _draft(client: GitHubClient, tag: str, publisher: Publisher | None) -> int:
    """A draft as a publish that got as far as creating it leaves (None: one without our marker, made by hand)."""
    marker = publisher.marker if publisher else "<!-- drafted by hand -->"
    return releases.create_draft(client, tag, tag, "in flight", None, marker)["id"]


@pytest.mark.parametrize("publisher", [
    pytest.param(lambda: Publisher("k", int(time.time()), this_machine(), _dead_pid()), id="killed-on-this-machine"),
    pytest.param(lambda: Publisher("o", int(time.time()) - ABANDONED_AFTER - 60, "-", 1), id="older-than-any-upload"),
    pytest.param(lambda: None, id="unmarked-and-old"),  # the stand-in's clock dates releases in 2025
])
def test_a_draft_left_by_a_publish_that_died_is_never_champion_and_is_deleted(
        gh: GitHubStandIn, registry: GitHubReleasesRegistry, client: GitHubClient, tmp_path: Path, publisher) -> None:
    _draft(client, "model-v1", publisher())
    _draft(client, "model-v5", publisher())
    assert registry.champion() is None and registry.next_version() == 1
    _publish(registry, tmp_path, 1)
    assert [(r["tag_name"], r["draft"]) for r in gh.release_list()] == [("model-v1", False)]
    assert "mlops-template:model-publish" not in gh.release_list()[0]["body"]  # the marker is for rival publishes


def test_a_publish_leaves_the_drafts_of_publishes_in_flight_alone(
        gh: GitHubStandIn, registry: GitHubReleasesRegistry, client: GitHubClient, tmp_path: Path) -> None:
    """Someone else is promoting on another machine (v2) and someone on this one (v1, first): neither is touched,
    and this publish of v1 steps back in one line, leaving nothing of its own."""
    elsewhere = _draft(client, "model-v2", Publisher("e", int(time.time()) - 3600, "another-machine", 1))
    first = _draft(client, "model-v1", Publisher("f", int(time.time()), this_machine(), os.getpid()))
    with pytest.raises(RegistryError, match=r"another promotion is publishing v1 \(draft release \d+, made first\)"):
        _publish(registry, tmp_path, 1)
    assert sorted(r["id"] for r in gh.release_list()) == sorted([elsewhere, first])
    assert all(r["draft"] for r in gh.release_list()) and registry.champion() is None


def test_in_github_actions_a_draft_of_an_earlier_run_is_abandoned(
        gh: GitHubStandIn, registry: GitHubReleasesRegistry, client: GitHubClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """release.yml promotes one run at a time: a draft that another run left (its job cancelled mid-upload, its
    runner lost) cannot be in flight, and must not hold the next merge's release back for hours. A laptop's draft,
    whose publisher nobody can see from a runner, is left alone."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "700")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "1")
    laptop = _draft(client, "model-v4", Publisher("l", int(time.time()) - 60, "boot-id/4026531836", 99))
    monkeypatch.setenv("GITHUB_RUN_ID", "699")
    _draft(client, "model-v1", Publisher.this_process())
    monkeypatch.setenv("GITHUB_RUN_ID", "700")
    assert _publish(registry, tmp_path, 1) == 1
    assert sorted((r["tag_name"], r["draft"]) for r in gh.release_list()) == [("model-v1", False), ("model-v4", True)]
    assert laptop in [r["id"] for r in gh.release_list()]


class _RivalLandsFirst(GitHubReleasesRegistry):
    """A registry through which another promotion publishes while this one reads its version number: the
    interleaving GitHub, which has no lock, allows between a promotion's champion check and its publish."""

    def __init__(self, client: GitHubClient, rival: Path) -> None:
        super().__init__(client)
        self.rival = rival

    def next_version(self) -> int:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            GitHubReleasesRegistry(self.client).publish(rival)
        return super().next_version()


def test_a_promotion_judged_against_a_champion_replaced_meanwhile_publishes_nothing(
        gh: GitHubStandIn, registry: GitHubReleasesRegistry, client: GitHubClient, tmp_path: Path) -> None:
    """B checked v1 as champion, then A published v2: B must not publish v3 on a verdict against v1."""
    from ml.promote import promote

    champion = read_metadata(make_bundle(tmp_path / "v1", 1))
    registry.publish(tmp_path / "v1")
    model = make_bundle(tmp_path / "challenger", None, seed=3)
    comparison = {"decision": "promote", "reasons": [], "metrics": {"roc_auc": {"challenger": 0.83}},
                  "challenger": {"artifact_sha256": read_metadata(model)["artifact_sha256"]},
                  "champion": {"version": 1, "artifact_sha256": champion["artifact_sha256"]}}
    racing = _RivalLandsFirst(client, make_bundle(tmp_path / "rival", 2, seed=2))
    with pytest.raises(RegistryError, match="compared the model with champion v1, but the registry's champion is v2; "
                                            "run compare.py again"):
        promote(model, comparison, racing, name="churn-model")
    assert sorted((r["tag_name"], r["draft"]) for r in gh.release_list()) == [("model-v1", False), ("model-v2", False)]


def test_two_promotions_of_one_version_at_once_publish_it_once(gh: GitHubStandIn, tmp_path: Path) -> None:
    """Two people run promote.py at the same moment: exactly one wins, the other is told so, nothing is left over."""
    for version in (1, 2, 3):
        start = threading.Barrier(2)

        def promote(side: int, version: int = version, start: threading.Barrier = start) -> str:
            with client_for(gh) as client:
                bundle = make_bundle(tmp_path / f"v{version}-{side}", version, seed=side)
                start.wait()
                try:
                    GitHubReleasesRegistry(client).publish(bundle)
                except RegistryError as exc:
                    return str(exc)
                return "won"

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(promote, (0, 1)))
        assert outcomes[-1] == "won" and "another promotion" in outcomes[0], outcomes
        assert "\n" not in outcomes[0]
        tagged = [r for r in gh.release_list() if r["tag_name"] == f"model-v{version}"]
        assert [r["draft"] for r in tagged] == [False], tagged
    assert all(not r["draft"] for r in gh.release_list())


def test_a_bundle_file_over_githubs_asset_limit_is_refused_before_anything_is_created(
        gh: GitHubStandIn, registry: GitHubReleasesRegistry, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "big", 1, reference=True)
    with open(bundle / "reference.json", "r+b") as handle:
        handle.truncate(2 * 1024 ** 3)  # sparse: exactly 2 GiB, which GitHub refuses (assets must be under it)
    with pytest.raises(RegistryError) as refused:
        registry.publish(bundle)
    message = str(refused.value)
    assert "\n" not in message and str(bundle / "reference.json") in message and "2147483648 bytes" in message
    assert not any(r.method != "GET" for r in gh.requests) and gh.release_list() == []


@pytest.mark.parametrize("kind", ["502-before", "429", "429-headerless"])
def test_a_retried_upload_sends_the_whole_file_again(gh: GitHubStandIn, registry: GitHubReleasesRegistry,
                                                    tmp_path: Path, kind: str) -> None:
    """502: sent again by write_once; 429 with retry-after: by urllib3; 429 naming no wait: by GitHubClient.send."""
    gh.fail(kind, op="repos/upload_release_asset")
    _publish(registry, tmp_path, 1)
    assert gh.asset_bytes("model-v1", "model.joblib") == (tmp_path / "bundle1" / "model.joblib").read_bytes()
    assert any(r.fault == kind for r in gh.requests)


UPLOAD_AND_REPORT_MEMORY = """
import resource, sys
from pathlib import Path
from ml.github import releases
from ml.github.client import GitHubClient

with GitHubClient.from_env() as client:
    release = client.get_json(client.repo_url(f"/releases/{sys.argv[1]}"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    releases.upload_asset(client, release, Path(sys.argv[2]), "application/octet-stream")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_an_upload_streams_the_file_instead_of_reading_it_into_memory(gh: GitHubStandIn, client: GitHubClient,
                                                                       tmp_path: Path) -> None:
    big = tmp_path / "model.joblib"
    with open(big, "wb") as handle:
        handle.truncate(96 * 1024 ** 2)
    draft = _draft(client, "model-v1", Publisher.this_process())
    grew = subprocess.run([sys.executable, "-c", UPLOAD_AND_REPORT_MEMORY, str(draft), str(big)], env=script_env(
        **gh.env()), capture_output=True, text=True, timeout=120, check=True).stdout
    assert int(grew) < 8 * 1024, f"peak memory grew by {int(grew) // 1024} MiB uploading a 96 MiB file"
    assert len(gh.asset_bytes("model-v1", "model.joblib")) == 96 * 1024 ** 2


def test_publish_refuses_a_wrong_version_and_incomplete_bundles(registry: GitHubReleasesRegistry,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="next version .* is v1"):
        registry.publish(make_bundle(tmp_path / "b", 3))
    bundle = make_bundle(tmp_path / "c", 1)
    (bundle / "model_card.md").unlink()
    with pytest.raises(RegistryError, match="model_card.md"):
        registry.publish(bundle)
    with pytest.raises(RegistryError, match="v7 is not among"):
        registry.fetch(7, tmp_path / "x")


def test_round_trip_survives_random_faults(gh: GitHubStandIn, registry: GitHubReleasesRegistry,
                                           tmp_path: Path) -> None:
    gh.random_faults(0.25, seed=8)
    for seed in (1, 2, 3):
        _publish(registry, tmp_path, seed)
    assert registry.rollback().version == 2
    fetched = registry.fetch(2, tmp_path / "fetched")
    gh.clear_faults()
    assert read_metadata(fetched)["version"] == 2
    assert sorted((r["tag_name"], len(r["assets"])) for r in gh.release_list()) == [
        ("model-v1", 3), ("model-v2", 3), ("model-v3", 3)]
    assert registry.champion().version == 2
    assert any(r.fault for r in gh.requests)


def test_open_registry_picks_github_releases_from_the_environment(gh: GitHubStandIn, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in gh.env(MODEL_REGISTRY="github").items():
        monkeypatch.setenv(key, value)
    registry = open_registry(load_params(REPO / "params.yaml"))
    assert isinstance(registry, GitHubReleasesRegistry)
    _publish(registry, tmp_path, 1)
    assert registry.champion().version == 1
