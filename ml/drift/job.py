"""One drift run: profile both sides (data files, prediction logs or a stored reference.json), compare them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml.drift.config import DriftConfig, drift_config
from ml.drift.detect import compare
from ml.drift.profile import DataProfile, Scorer, profile_source
from ml.drift.reference import load_reference
from ml.drift.scoring import batch_scorer
from ml.params import Params


def load_side(path: str | Path, params: Params, config: DriftConfig, scorer: Scorer | None = None) -> DataProfile:
    """A `.json` path is a stored reference; anything else is data (CSV, parquet, JSON-lines logs or their dir)."""
    if str(path).lower().endswith(".json"):
        return load_reference(path, params.features)
    return profile_source(path, params.features, params.task, config.sample_size, params.seed, scorer)


def detect_drift(reference: str | Path, current: str | Path, params: Params,
                 model_dir: str | Path | None = None) -> dict[str, Any]:
    """The drift result for two paths. With model_dir, data without logged predictions is scored by that model."""
    config = drift_config(params)
    scorer = None
    if model_dir is not None:
        from ml.bundle import load_bundle

        model, _ = load_bundle(model_dir)
        scorer = batch_scorer(model, params.features, params.task)
    reference_profile = load_side(reference, params, config, scorer)
    current_profile = load_side(current, params, config, scorer)
    return compare(reference_profile, current_profile, params.features, config)
