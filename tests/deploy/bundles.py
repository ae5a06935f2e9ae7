"""Model bundles for the deploy tests, built for real (train once, then copies with other versions or defects)."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import yaml

from ml.bundle import ARTIFACT, read_metadata, write_metadata
from tests.conftest import base_params


def write_deploy_params(root: Path, data_csv: Path) -> Path:
    """A params.yaml with absolute data and registry paths (slots run with another working directory), the default
    relative prediction log directory (host slots keep it under the state directory) and a quick model."""
    raw = base_params()
    raw["data"]["path"] = str(data_csv)
    raw["model"]["params"]["max_iter"] = 30
    raw["registry"] = {"backend": "local", "path": str(root / "registry")}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def train_bundle(params_path: Path, out_dir: Path) -> Path:
    from ml.bundle import save_bundle
    from ml.dataset import load_dataset
    from ml.params import load_params
    from ml.train import fit

    params = load_params(params_path)
    model, metadata = fit(load_dataset(params), params)
    save_bundle(model, metadata, out_dir)
    return out_dir


def copy_as_version(base: Path, dest: Path, version: int | None) -> Path:
    shutil.copytree(base, dest)
    metadata = read_metadata(dest)
    metadata["version"] = version
    write_metadata(dest, metadata)
    return dest


def tamper_artifact(bundle: Path) -> Path:
    """The server must refuse to load it: its sha256 no longer matches the metadata."""
    with open(bundle / ARTIFACT, "ab") as handle:
        handle.write(b"tampered")
    return bundle


def unservable_golden(bundle: Path, params_path: Path) -> Path:
    """A golden record the model answers (so the server's own start-up check passes) but that the serving schema
    refuses (tenure above params.yaml's max): the smoke test, which goes through HTTP, must catch it."""
    import pandas as pd

    from ml.bundle import load_bundle
    from ml.data import model_frame
    from ml.evaluate import predict
    from ml.params import load_params

    params = load_params(params_path)
    model, metadata = load_bundle(bundle)
    record = metadata["golden"][0]
    record["features"]["tenure_months"] = 500
    outputs = predict(model, model_frame(pd.DataFrame([record["features"]]), params), params)
    record["prediction"] = outputs.predictions[0].item()
    record["probability"] = float(outputs.probabilities[0, -1])
    write_metadata(bundle, metadata)
    return bundle


def golden(bundle: Path) -> list[dict]:
    return json.loads((bundle / "metadata.json").read_text())["golden"]


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
