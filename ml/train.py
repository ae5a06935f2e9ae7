"""Fit the pipeline and describe the result: everything needed to reproduce, audit and serve it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from ml.data import json_records
from ml.dataset import Dataset
from ml.errors import ParamsError
from ml.evaluate import predict
from ml.model import build_pipeline
from ml.params import Params
from ml.provenance import git_commit, library_versions
from ml.split import METHOD as SPLIT_METHOD

GOLDEN_ROWS = 8


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def golden_records(model: Pipeline, dataset: Dataset, params: Params) -> list[dict]:
    """A few holdout rows with the outputs this exact model gives: the smoke test's expected answers."""
    rows = dataset.X_holdout.head(GOLDEN_ROWS)
    outputs = predict(model, rows, params)
    golden = []
    for i, record in enumerate(json_records(rows, params)):
        entry = {"features": record, "prediction": _jsonable(outputs.predictions[i])}
        if outputs.probabilities is not None:
            entry["probability"] = float(outputs.probabilities[i, -1])
        golden.append(entry)
    return golden


def _fit_error(params: Params, exc: ValueError) -> ParamsError:
    name = params.model_class.rsplit(".", 1)[-1]
    message = " ".join(str(exc).split()) or exc.__class__.__name__
    return ParamsError(f"model {name} could not be fitted: {message} — change model.params in params.yaml")


def _fit_estimator(model: Pipeline, dataset: Dataset, params: Params) -> None:
    """Fit the pipeline; a hyperparameter the data cannot take is a one-line ParamsError naming the estimator.

    scikit-learn checks hyperparameter values against the data only in fit(), as a ValueError. Only the
    estimator's are caught: one raised before the preprocessing is fitted is the preprocessing's (or ours) and
    propagates.
    """
    try:
        model.fit(dataset.X_train, dataset.y_train)
    except ValueError as exc:
        if not hasattr(model.named_steps["preprocess"], "transformers_"):  # set once the preprocessing is fitted
            raise
        raise _fit_error(params, exc) from exc


def _check_estimator_scores(model: Pipeline, dataset: Dataset, params: Params) -> None:
    """Some hyperparameters fit but cannot score: KNeighborsClassifier stores any n_neighbors, then refuses to
    predict with more neighbours than training rows. The fitted estimator scores one training row, so that is the
    same one-line error as a failed fit, not an unexplained one from the golden records or the holdout."""
    probe = model.named_steps["preprocess"].transform(dataset.X_train.head(1))  # outside the try: not the model's
    estimator = model.named_steps["model"]
    try:
        estimator.predict_proba(probe) if params.task == "classification" else estimator.predict(probe)
    except ValueError as exc:
        raise _fit_error(params, exc) from exc


def fit(dataset: Dataset, params: Params) -> tuple[Pipeline, dict]:
    model = build_pipeline(params)
    started = time.perf_counter()
    _fit_estimator(model, dataset, params)
    fit_seconds = time.perf_counter() - started
    _check_estimator_scores(model, dataset, params)
    metadata = {
        "task": params.task,
        "target": params.target,
        "features": [{k: v for k, v in vars(f).items() if v is not None} for f in params.features],
        "classes": [_jsonable(c) for c in model.classes_] if params.task == "classification" else None,
        "model_class": params.model_class,
        "params": params.raw,
        "data_sha256": dataset.data_sha256,
        "holdout_fingerprint": dataset.holdout_fingerprint,
        "split_method": SPLIT_METHOD,
        "training_rows": int(len(dataset.y_train)),
        "fit_seconds": round(fit_seconds, 3),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "library_versions": library_versions(),
        "golden": golden_records(model, dataset, params),
    }
    return model, metadata
