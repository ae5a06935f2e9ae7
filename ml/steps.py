"""Each pipeline step end to end: read its inputs, do the work, write its outputs atomically.

The scripts/ CLIs call one step each (one workflow step each); `run_pipeline` chains them in one process and
loads the data once, for laptops and benchmarks. Every step deletes its previous outputs before it starts, so a
failure never leaves a stale report looking current. Training, scoring and comparing are imported inside their
steps: validating the data needs neither scikit-learn nor scipy.stats, whose imports cost it seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml.bundle import remove_bundle_dir
from ml.data import read_data
from ml.dataset import Dataset, dataset_from_frame, load_dataset
from ml.drift.config import drift_config
from ml.errors import DataError, MLOpsError
from ml.fileio import remove_outputs, sha256_file, write_json_atomic, write_text_atomic
from ml.params import Params
from ml.report import COMMENT, SUMMARY, render_validation, write_pr_reports
from ml.validation import validate_frame

if TYPE_CHECKING:
    from ml.evaluate import Outputs

VALIDATION_JSON, VALIDATION_MD = "validation.json", "validation.md"
METRICS, COMPARISON = "metrics.json", "comparison.json"
# Everything run_pipeline writes into the reports directory: all of it goes before it starts, so a failure midway
# (say, a champion directory that does not exist) leaves no report of the last run looking current.
PIPELINE_REPORTS = (VALIDATION_JSON, VALIDATION_MD, METRICS, COMPARISON, COMMENT, SUMMARY)


def check_later_sections(params: Params) -> None:
    """The drift: and serving: sections, which later jobs read (the drift check, the model server): a mistake there
    fails the first step of the PR, not the deploy of the model it merged."""
    from serving.settings import settings_from

    drift_config(params)
    settings_from(params, {})


def validate_step(params: Params, reports_dir: Path) -> Dataset:
    """Write validation.{json,md}; raise DataError when the data is invalid; return the split dataset.

    The first step of a run, so the later steps' reports in reports_dir go too: from now on they describe an
    earlier run, and a report rendered after a failed train would pair today's validation with yesterday's model."""
    out_json, out_md = reports_dir / VALIDATION_JSON, reports_dir / VALIDATION_MD
    remove_outputs(*(reports_dir / name for name in PIPELINE_REPORTS))
    check_later_sections(params)
    report: dict[str, Any] = {"data": params.data_label, "target": params.target, "ok": False, "rows": 0,
                              "failures": []}
    try:
        dataset = _checked_dataset(params, report)
    except DataError as exc:
        report["error"] = str(exc)
    write_json_atomic(out_json, report)
    write_text_atomic(out_md, render_validation(report))
    if not report["ok"]:
        raise DataError(report["error"])
    return dataset


def _checked_dataset(params: Params, report: dict[str, Any]) -> Dataset:
    """Read, validate and split the data, recording the findings in report; any reason the data cannot be used
    (the schema, a split with nothing to learn) is a DataError, so the report never says ok when training fails."""
    frame = read_data(params)
    result = validate_frame(frame, params)
    report.update(rows=result.rows, failures=result.failures)
    if not result.ok:
        raise DataError(f"{params.data_path}: {result.one_line()}")
    data_sha256 = sha256_file(params.data_path)
    dataset = dataset_from_frame(frame, params, data_sha256)
    report.update(ok=True, data_sha256=data_sha256)
    return dataset


def train_step(params: Params, model_dir: Path, dataset: Dataset | None = None) -> tuple[dict, Outputs]:
    """Fit, then store the bundle with its drift reference (training features, holdout scores): drift jobs need
    no data. Returns the metadata and the model's outputs on the holdout."""
    from ml.bundle import REFERENCE, save_bundle
    from ml.drift.reference import build_reference
    from ml.drift.scoring import output_scores
    from ml.evaluate import predict
    from ml.train import fit

    remove_bundle_dir(model_dir)
    check_later_sections(params)  # the reference needs the drift: section: a mistake fails now, not after the fit
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
    _require_champion_dir(champion_dir)
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


def _require_champion_dir(champion_dir: Path | None) -> None:
    """--champion-dir is checked here, once the step's outputs are gone: click's exists=True would refuse it before
    the step starts, leaving the last run's reports in place, with a usage message instead of one line."""
    if champion_dir is not None and not champion_dir.is_dir():
        raise MLOpsError(f"{champion_dir}: no such champion directory (--champion-dir)")


def remove_pipeline_outputs(reports_dir: Path, model_dir: Path) -> None:
    """Everything run_pipeline writes, so no report or model of an earlier run survives a failed one."""
    remove_outputs(*(reports_dir / name for name in PIPELINE_REPORTS))
    remove_bundle_dir(model_dir)


def run_pipeline(params: Params, reports_dir: Path, model_dir: Path, champion_dir: Path | None = None) -> dict:
    """validate → train → evaluate → compare → render in one process, reading and scoring the data once."""
    remove_pipeline_outputs(reports_dir, model_dir)
    _require_champion_dir(champion_dir)
    dataset = validate_step(params, reports_dir)
    _, holdout = train_step(params, model_dir, dataset)
    evaluate_step(params, model_dir, reports_dir / METRICS, dataset, holdout)
    result = compare_step(params, model_dir, reports_dir / COMPARISON, champion_dir, dataset, holdout)
    write_pr_reports(reports_dir)
    return result
