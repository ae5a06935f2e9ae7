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


def check_promotable(metadata: dict, comparison: dict, force: bool) -> None:
    if comparison.get("challenger", {}).get("artifact_sha256") != metadata["artifact_sha256"]:
        raise RegistryError("comparison.json is about a different model than the one being promoted; "
                            "run compare.py again")
    if comparison.get("decision") != PROMOTE and not force:
        reasons = "; ".join(comparison.get("reasons", [])) or "no reason recorded"
        raise RegistryError(f"refusing to promote: the gate said {comparison.get('decision')} ({reasons}); "
                            "use --force to override")


def promote(model_dir: Path, comparison: dict, registry: Registry, force: bool = False,
            pull_request: int | None = None, *, name: str) -> ModelVersion:
    metadata = verify_artifact(model_dir)
    check_promotable(metadata, comparison, force)
    metadata = {
        **metadata,
        "version": registry.next_version(),
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": {k: m["challenger"] for k, m in comparison["metrics"].items()},
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
