"""Drift detection: is production data still like the training data, and if not, what moved?

Entry points: `build_reference` (at training time, stored as reference.json in the model bundle),
`detect_drift` (the scheduled job) and `render_markdown` / `render_html` (the issue body and the report).
"""

from ml.drift.config import DriftConfig, drift_config
from ml.drift.job import detect_drift
from ml.drift.reference import FILENAME as REFERENCE_FILENAME
from ml.drift.reference import build_reference
from ml.drift.scoring import model_scores

__all__ = ["REFERENCE_FILENAME", "DriftConfig", "build_reference", "detect_drift", "drift_config", "model_scores"]
