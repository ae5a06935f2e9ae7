"""Shared fixtures for the drift tests: params with churn-like features, a numpy data generator, a model bundle."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from ml.drift.readers import Batch
from ml.params import Params, parse_params

FEATURES = {
    "tenure_months": {"type": "int", "min": 0, "max": 72},
    "monthly_charges": {"type": "float", "min": 0, "max": 200},
    "total_charges": {"type": "float", "nullable": True},
    "contract": {"type": "category", "values": ["month-to-month", "one-year", "two-year"]},
    "region": {"type": "category", "values": ["north", "south", "east", "west"], "nullable": True},
    "support_tickets": {"type": "int", "min": 0, "max": 30},
    "senior_citizen": {"type": "bool"},
}

RAW_PARAMS = {
    "data": {"path": "data/churn.csv"},
    "task": "classification",
    "target": "churned",
    "features": FEATURES,
    "model": {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 200}},
    "split": {"test_size": 0.2, "seed": 7},
    "metrics": {"primary": {"name": "roc_auc", "direction": "maximize"}},
    "gate": {},
    "registry": {"backend": "local", "path": "registry"},
    "drift": {"fdr": 0.05, "numeric_effect": 0.1, "categorical_effect": 0.1, "null_rate_change": 0.05,
              "unseen_share": 0.01, "dataset_share": 0.3, "critical_columns": ["contract", "tenure_months"],
              "prediction_drift": True, "sample_size": 200_000, "reference_sample": 20_000},
}


def make_params(root: Path, features: dict[str, dict] | None = None, **drift: object) -> Params:
    """RAW_PARAMS with features added or replaced and drift settings changed."""
    raw = copy.deepcopy(RAW_PARAMS)
    raw["features"].update(features or {})
    raw["drift"].update(drift)
    return parse_params(raw, root)


def write_params(directory: Path, **drift: object) -> Path:
    raw = copy.deepcopy(RAW_PARAMS)
    raw["drift"].update(drift)
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def bundle_metadata(params: Params) -> dict[str, Any]:
    """The metadata a bundle must hold for a churn classifier (ml.bundle checks its shape on load)."""
    return {"task": params.task, "features": [{"name": f.name, "type": f.type} for f in params.features],
            "classes": [0, 1]}


def make_columns(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    """Churn-like columns from fixed distributions; every call is a fresh independent sample."""
    contract = rng.choice(["month-to-month", "one-year", "two-year"], rows, p=[0.55, 0.25, 0.2]).astype(object)
    tenure = np.minimum(rng.gamma(1.6, 14.0, rows).astype(int), 72)
    monthly = np.clip(rng.normal(65, 20, rows), 0, 200).round(2)
    total = (monthly * tenure).round(2)
    total[tenure == 0] = np.nan
    region = rng.choice(["north", "south", "east", "west"], rows).astype(object)
    region[rng.random(rows) < 0.03] = None
    return {
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "contract": contract,
        "region": region,
        "support_tickets": np.minimum(rng.poisson(1.5, rows), 30),
        "senior_citizen": rng.random(rows) < 0.16,
    }


def make_frame(rng: np.random.Generator, rows: int, *, with_target: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame(make_columns(rng, rows))
    if with_target:
        logit = (-1 + 1.2 * (frame["contract"] == "month-to-month") - 0.04 * frame["tenure_months"]
                 + 0.3 * frame["support_tickets"])
        frame["churned"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def as_batch(columns: dict[str, np.ndarray]) -> Batch:
    """Columns → a normalised batch directly (what readers produce), skipping pandas: fast for many replicates."""
    normalised = {}
    for name, values in columns.items():
        kind = FEATURES[name]["type"]
        if kind in ("int", "float"):
            normalised[name] = np.asarray(values, dtype=np.float64)
        elif kind == "bool":
            normalised[name] = pa.array(np.where(values, "true", "false").astype(object), type=pa.string())
        else:
            normalised[name] = pa.array(values, type=pa.string())
    return Batch(rows=len(next(iter(columns.values()))), columns=normalised)


def load_script(name: str) -> Any:
    """A scripts/ CLI as a module, so its click command can run in-process (CliRunner) where speed matters."""
    path = Path(__file__).resolve().parents[2] / "scripts" / name
    spec = importlib.util.spec_from_file_location(f"drift_test_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def params(tmp_path: Path) -> Params:
    return make_params(tmp_path)


@pytest.fixture(scope="session")
def model_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real fitted pipeline saved as a bundle (sha256-verified on load), trained on make_frame data."""
    from ml.bundle import save_bundle
    from ml.model import build_pipeline

    directory = tmp_path_factory.mktemp("bundle")
    params = make_params(directory)
    frame = make_frame(np.random.default_rng(11), 4000, with_target=True)
    model = build_pipeline(params).fit(frame[params.feature_names], frame["churned"])
    save_bundle(model, {"version": 3, **bundle_metadata(params)}, directory / "model")
    return directory / "model"
