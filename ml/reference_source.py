"""Where drift.yml's reference comes from: the champion bundle's reference.json, else the training data.

A bundle trained since the drift reference existed carries reference.json (fitted on its training data). An older
champion does not; then the data data.dvc names (pulled or regenerated, hash-verified) stands in for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ml.bundle import REFERENCE as REFERENCE_FILE
from ml.dvc_data import ensure_data
from ml.params import Params


def materialize_reference(model_dir: Path, params: Params, out_dir: Path) -> Path:
    """Copy the reference into out_dir (reference.json, or the data file under its own suffix); returns it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stored = model_dir / REFERENCE_FILE
    if stored.is_file():
        return Path(shutil.copyfile(stored, out_dir / REFERENCE_FILE))
    ensure_data(params)
    return Path(shutil.copyfile(params.data_path, out_dir / f"reference{params.data_path.suffix}"))
