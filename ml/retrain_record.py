"""The record a retraining PR carries (retrain.json): why it ran, on which data, and what the gate said.

It is the file that always changes in a retraining PR, so a PR exists even when the data (data.dvc) did not
change, e.g. the simulated loop on a fresh fork.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def build_record(comparison: dict[str, Any], reason: str, run_id: str | None, base_sha: str | None) -> dict[str, Any]:
    challenger = comparison.get("challenger") or {}
    return {
        "reason": reason,
        "requested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "workflow_run_id": run_id,
        "base_commit": base_sha,
        "decision": comparison.get("decision"),
        "reasons": comparison.get("reasons", []),
        "challenger_artifact_sha256": challenger.get("artifact_sha256"),
        "data_sha256": comparison.get("data_sha256") or challenger.get("data_sha256"),
        "metrics": {name: m.get("challenger") for name, m in (comparison.get("metrics") or {}).items()
                    if isinstance(m, dict)},
    }
