"""Turn a gated challenger into the next champion version, with its metrics, gate reasons and model card."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from ml.bundle import verify_artifact, write_metadata
from ml.errors import RegistryError
from ml.fileio import write_text_atomic
from ml.gate import PROMOTE
from ml.registry.base import ModelVersion, Registry
from ml.report import render_model_card


def model_name(root: Path) -> str:
    """What the model card calls the model: the repository's name (GITHUB_REPOSITORY in Actions, else the
    checkout's directory), so a fork's cards carry the fork's name."""
    return os.environ.get("GITHUB_REPOSITORY", "").rpartition("/")[2] or root.resolve().name


def _shape_problem(comparison: dict) -> str | None:
    """What makes a comparison.json (hand-edited, or from another version of this code) unusable, or None."""
    if not isinstance(comparison.get("challenger"), dict):
        return "'challenger' must be an object"
    if not isinstance(comparison.get("champion"), dict | None):
        return "'champion' must be an object or null"
    metrics = comparison.get("metrics")
    if not isinstance(metrics, dict) or not all(isinstance(m, dict) and "challenger" in m for m in metrics.values()):
        return "'metrics' must map each metric to an object with its 'challenger' value"
    if not isinstance(comparison.get("reasons", []), list):
        return "'reasons' must be a list"
    return None


def check_promotable(metadata: dict, comparison: dict, force: bool, champion: ModelVersion | None) -> None:
    """Refuse a comparison of another model, or against a champion that is no longer the registry's, or (unless
    forced) one the gate rejected. --force overrides the gate only: a stale comparison judged nothing."""
    problem = _shape_problem(comparison)
    if problem:
        raise RegistryError(f"comparison.json: {problem}; run compare.py again")
    if comparison["challenger"].get("artifact_sha256") != metadata["artifact_sha256"]:
        raise RegistryError("comparison.json is about a different model than the one being promoted; "
                            "run compare.py again")
    _require_current_champion(comparison.get("champion") or {}, champion)
    if comparison.get("decision") != PROMOTE and not force and not already_promoted(comparison):
        reasons = "; ".join(comparison.get("reasons", [])) or "no reason recorded"
        raise RegistryError(f"refusing to promote: the gate said {comparison.get('decision')} ({reasons}); "
                            "use --force to override")


def already_promoted(comparison: dict) -> bool:
    """The champion compared with was built from this very commit into this very artifact: release.yml re-run
    after its promotion published. That version is the release; publishing it again would only duplicate it."""
    champion, challenger = comparison.get("champion") or {}, comparison.get("challenger") or {}
    return bool(champion.get("git_commit")) and all(
        champion.get(key) == challenger.get(key) for key in ("git_commit", "artifact_sha256"))


def superseded(number: int, champion: ModelVersion) -> str | None:
    """Why release vN must not be deployed, or None while it is the champion. drift.yml and the next gate take the
    champion for production's model, so a re-run of an older run's deploy would leave them judging another one."""
    if number == champion.version:
        return None
    if number < champion.version:
        return (f"v{number} is no longer the champion ({champion.name} is): not deploying an older model; "
                "use deploy.py rollback to go back deliberately")
    return f"v{number} is no longer the champion (the registry was rolled back to {champion.name}): not deploying it"


def _require_current_champion(compared: dict, champion: ModelVersion | None) -> None:
    """The gate judged the model against `compared`; once another champion is in place (this very comparison's
    model, promoted already) the verdict is stale. Version and artifact: a version may repeat an artifact."""
    then = (compared.get("version"), compared.get("artifact_sha256")) if compared else None
    now = (champion.version, champion.metadata.get("artifact_sha256")) if champion else None
    if then != now:
        label = f"champion v{compared.get('version') or '?'}" if compared else "no champion"
        raise RegistryError(f"comparison.json compared the model with {label}, but the registry's champion is "
                            f"{champion.name if champion else 'none'}; run compare.py again")


def publishes_nothing(comparison: dict, force: bool) -> bool:
    """promote() returns the champion as it is: a re-run on its own build (--force asks for a new version even
    of the same build)."""
    return already_promoted(comparison) and not force


def gate_record(comparison: dict) -> dict:
    """What the gate weighed, for the card: the champion replaced, the holdout, each metric's delta and CI.
    Beside "metrics" (the challenger's values, which releases and serving read), not in place of it."""
    return {key: comparison.get(key) for key in ("primary_metric", "confidence", "holdout", "champion", "metrics")}


def promote(model_dir: Path, comparison: dict, registry: Registry, force: bool = False,
            pull_request: int | None = None, *, name: str) -> ModelVersion:
    metadata = verify_artifact(model_dir)
    with registry.exclusive():  # the champion checked is still the champion replaced when the version lands
        return _publish_checked(model_dir, metadata, comparison, registry, force, pull_request, name)


def _publish_checked(model_dir: Path, metadata: dict, comparison: dict, registry: Registry, force: bool,
                     pull_request: int | None, name: str) -> ModelVersion:
    champion = registry.champion()
    check_promotable(metadata, comparison, force, champion)
    if publishes_nothing(comparison, force):
        return champion
    version = registry.next_version()
    # The GitHub backend has no lock: a promotion that landed between the champion's check and the version number
    # would leave this one publishing the next number on a verdict against the champion before.
    _require_current_champion(comparison.get("champion") or {}, registry.champion())
    metadata = {
        **metadata,
        "version": version,
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": {k: m["challenger"] for k, m in comparison["metrics"].items()},
        "comparison": gate_record(comparison),
        "gate_decision": comparison["decision"],
        "gate_reasons": comparison.get("reasons", []),
        "forced": bool(force and comparison.get("decision") != PROMOTE),
        "pull_request": pull_request,
    }
    with tempfile.TemporaryDirectory(prefix="promote-") as scratch:
        staging = Path(scratch)
        for extra in Path(model_dir).iterdir():
            if extra.is_file() and extra.name != "metadata.json":
                shutil.copy2(extra, staging / extra.name)
        write_metadata(staging, metadata)
        write_text_atomic(staging / "model_card.md", render_model_card(metadata, name))
        verify_artifact(staging)
        return registry.publish(staging)
