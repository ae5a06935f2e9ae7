"""Each pipeline step end to end: read its inputs, do the work, write its outputs atomically.

The scripts/ CLIs call one step each (one workflow step each); `run_pipeline` chains them in one process and
loads the data once, for laptops and benchmarks. Every step deletes its previous outputs before it starts, so a
failure never leaves a stale report looking current. Training, scoring and comparing are imported inside their
steps: validating the data needs neither scikit-learn nor scipy.stats, whose imports cost it seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml.data import read_table
from ml.dataset import Dataset, dataset_from_frame, load_dataset
from ml.drift.config import drift_config
from ml.errors import DataError
from ml.fileio import remove_outputs, sha256_file, write_json_atomic, write_text_atomic
from ml.params import Params
from ml.report import render_validation, write_pr_reports
from ml.validation import validate_frame

if TYPE_CHECKING:
    from ml.evaluate import Outputs


def validate_step(params: Params, reports_dir: Path) -> Dataset:
    """Write validation.{json,md}; raise DataError when the data is invalid; return the split dataset."""
    out_json, out_md = reports_dir / "validation.json", reports_dir / "validation.md"
    remove_outputs(out_json, out_md)
    drift_config(params)  # a mistake in the drift: section fails this first step, not the training after it
    report: dict[str, Any] = {"data": params.data_label, "target": params.target, "ok": False, "rows": 0,
                              "failures": []}
    frame = None
    try:
        frame = read_table(params.data_path)
    except DataError as exc:
        report["error"] = str(exc)
    else:
        result = validate_frame(frame, params)
        report.update(ok=result.ok, rows=result.rows, failures=result.failures)
        if result.ok:
            report["data_sha256"] = sha256_file(params.data_path)
        else:
            report["error"] = f"{params.data_path}: {result.one_line()}"
    write_json_atomic(out_json, report)
    write_text_atomic(out_md, render_validation(report))
    if not report["ok"]:
        raise DataError(report["error"])
    return dataset_from_frame(frame, params, report["data_sha256"])


def train_step(params: Params, model_dir: Path, dataset: Dataset | None = None) -> tuple[dict, Outputs]:
    """Fit, then store the bundle with its drift reference (training features, holdout scores): drift jobs need
    no data. Returns the metadata and the model's outputs on the holdout."""
    from ml.bundle import REFERENCE, save_bundle
    from ml.drift.reference import build_reference
    from ml.drift.scoring import output_scores
    from ml.evaluate import predict
    from ml.train import fit

    shutil.rmtree(model_dir, ignore_errors=True)
    drift_config(params)  # the reference needs the drift: section; a mistake there fails now, not after the fit
    dataset = dataset or load_dataset(params)
    model, metadata = fit(dataset, params)
    holdout = predict(model, dataset.X_holdout, params)
    reference = build_reference(dataset.X_train, output_scores(holdout, params.task), params)
    return save_bundle(model, metadata, model_dir, json_files={REFERENCE: reference}), holdout


def evaluate_step(params: Params, model_dir: Path, out: Path, dataset: Dataset | None = None,
                  holdout: Outputs | None = None) -> dict:
    """holdout: the model's outputs on the holdout when train_step has just made them (run_pipeline)."""
    from ml.evaluate import evaluation, holdout_outputs

    remove_outputs(out)
    dataset = dataset or load_dataset(params)
    metadata, holdout = holdout_outputs(model_dir, dataset, params, holdout)
    report = evaluation(dataset.y_holdout, holdout, params)
    report.update(artifact_sha256=metadata["artifact_sha256"], data_sha256=dataset.data_sha256,
                  holdout_fingerprint=dataset.holdout_fingerprint)
    write_json_atomic(out, report)
    return report


def compare_step(params: Params, model_dir: Path, out: Path, champion_dir: Path | None = None,
                 dataset: Dataset | None = None, holdout: Outputs | None = None) -> dict:
    """Compare with champion_dir, or with the registry's champion when none is given."""
    from ml.compare import compare
    from ml.registry import open_registry

    remove_outputs(out)
    dataset = dataset or load_dataset(params)
    with tempfile.TemporaryDirectory(prefix="champion-") as scratch:
        if champion_dir is None:
            registry = open_registry(params)
            champion = registry.champion()
            if champion is not None:
                champion_dir = registry.fetch(champion.version, Path(scratch) / champion.name)
        result = compare(model_dir, champion_dir, dataset, params, holdout)
    write_json_atomic(out, result)
    return result


def run_pipeline(params: Params, reports_dir: Path, model_dir: Path, champion_dir: Path | None = None) -> dict:
    """validate → train → evaluate → compare → render in one process, reading and scoring the data once."""
    dataset = validate_step(params, reports_dir)
    _, holdout = train_step(params, model_dir, dataset)
    evaluate_step(params, model_dir, reports_dir / "metrics.json", dataset, holdout)
    result = compare_step(params, model_dir, reports_dir / "comparison.json", champion_dir, dataset, holdout)
    write_pr_reports(reports_dir)
    return result
