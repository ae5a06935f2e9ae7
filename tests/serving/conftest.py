"""Fixtures for the model-server tests: bundles trained in-process on the small sample, and real uvicorn servers.

Servers run as `python -m uvicorn serving.app:app` subprocesses on free 127.0.0.1 ports, configured through
the environment exactly like a deploy (MODEL_DIR, PARAMS, PREDICTION_LOG_DIR, ...).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import yaml

from ml.bundle import save_bundle
from ml.data import json_records
from ml.dataset import Dataset, load_dataset
from ml.params import Params, parse_params
from ml.train import fit
from tests.conftest import base_params

START_TIMEOUT = 60.0
# Settings a test server inherits unless the test sets them: none may leak in from the caller's shell.
_SERVER_ENV = ("MODEL_DIR", "MODEL_VERSION", "MODEL_CACHE_DIR", "PREDICTION_LOG_DIR", "MAX_BATCH",
               "UNSEEN_CATEGORIES", "MODEL_THREADS", "PARAMS", "MODEL_REGISTRY")
SERVING = {
    "max_batch": 50,
    "unseen_categories": "accept",
    "prediction_log_dir": "logs/predictions",
    "prediction_log_max_bytes": 4096,  # small, so a test sees rotation
    "prediction_log_flush_seconds": 0.1,
    "max_body_bytes": 100_000,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A uvicorn process serving serving.app:app; stop() sends SIGTERM like Kubernetes does."""

    def __init__(self, cwd: Path, **env: str):
        self.cwd = cwd
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"server-{self.port}.log"
        environment = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV}
        environment.update(PYTHONDONTWRITEBYTECODE="1", **env)
        self._log = open(self.log_path, "wb")  # noqa: SIM115  # closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "serving.app:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log"], cwd=cwd, env=environment, stdout=self._log, stderr=subprocess.STDOUT)
        self.returncode: int | None = None

    def url(self, path: str) -> str:
        return self.base + path

    def wait(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Poll /health/ready until the server is ready or has failed; returns the last readiness body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited early:\n{self.output()}"
            try:
                response = requests.get(self.url("/health/ready"), timeout=2)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            body = response.json()
            if body["status"] in ("ready", "failed"):
                return body
            time.sleep(0.1)
        raise AssertionError(f"server neither ready nor failed after {timeout}s:\n{self.output()}")

    def ready(self) -> Server:
        body = self.wait()
        assert body["status"] == "ready", f"{body}\n{self.output()}"
        return self

    def post(self, path: str, payload: Any = None, *, data: bytes | str | None = None,
             content_type: str | None = "application/json", headers: dict[str, str] | None = None
             ) -> requests.Response:
        headers = {**({} if content_type is None else {"Content-Type": content_type}), **(headers or {})}
        body = data if data is not None else json.dumps(payload)
        return requests.post(self.url(path), data=body, headers=headers, timeout=30)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url(path), timeout=10)

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int:
        self.terminate()
        try:
            self.returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.returncode = self.process.wait()
        self._log.close()
        return self.returncode

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@dataclass
class Trained:
    """A workspace (params.yaml + data) with a model bundle trained in-process, and what it was trained on."""

    root: Path
    params: Params
    model_dir: Path
    pipeline: Any
    metadata: dict[str, Any]
    dataset: Dataset

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    def holdout_records(self, count: int | None = None) -> list[dict[str, Any]]:
        frame = self.dataset.X_holdout if count is None else self.dataset.X_holdout.head(count)
        return json_records(frame, self.params)

    def serve(self, **env: str) -> Server:
        environment = {"PARAMS": str(self.params_file), "MODEL_DIR": str(self.model_dir)}
        environment.update(env)
        return Server(self.root, **environment)


def train_workspace(root: Path, raw: dict[str, Any], csv: Path, version: int | None) -> Trained:
    (root / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(csv, root / "data" / "churn.csv")
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    params = parse_params(raw, root)
    dataset = load_dataset(params)
    pipeline, metadata = fit(dataset, params)
    if version is not None:
        metadata["version"] = version
    metadata = save_bundle(pipeline, metadata, root / "model")
    return Trained(root, params, root / "model", pipeline, metadata, dataset)


def serving_params(**serving: Any) -> dict[str, Any]:
    raw = base_params()
    raw["serving"] = {**SERVING, **serving}
    return raw


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Trained:
    """The classification pipeline params.yaml describes, promoted as v1, on the small sample."""
    return train_workspace(tmp_path_factory.mktemp("serving"), serving_params(), sample_csv, version=1)


@pytest.fixture(scope="session")
def trained_regression(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Trained:
    """A regression model (monthly_charges from the other features), never promoted: version 'dev-…'."""
    root = tmp_path_factory.mktemp("serving-regression")
    data = tmp_path_factory.mktemp("regression-data") / "churn.csv"
    pd.read_csv(sample_csv).drop(columns=["churned"]).to_csv(data, index=False)
    raw = serving_params()
    raw.update(task="regression", target="monthly_charges")
    raw["features"] = {k: v for k, v in raw["features"].items() if k != "monthly_charges"}
    raw["model"] = {"class": "sklearn.ensemble.HistGradientBoostingRegressor", "params": {"max_iter": 50}}
    raw["metrics"] = {"primary": {"name": "rmse", "direction": "minimize"}, "guardrails": {}}
    return train_workspace(root, raw, data, version=None)


@pytest.fixture(scope="session")
def server(trained: Trained) -> Server:
    """One ready server (unseen categories accepted, prediction log on) shared by the request-level tests."""
    running = trained.serve().ready()
    yield running
    running.stop()


@pytest.fixture
def edited_workspace(tmp_path: Path, trained: Trained):
    """A private copy of the trained workspace whose params.yaml a test may change: edit(change) -> root."""

    def edit(change=None) -> Path:
        root = tmp_path / "ws"
        shutil.copytree(trained.root, root, ignore=shutil.ignore_patterns("logs", "server-*.log"))
        raw = copy.deepcopy(yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8")))
        if change is not None:
            change(raw)
        (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return root

    return edit
