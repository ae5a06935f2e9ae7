"""Fixtures for the deploy tests: one trained bundle per session, copied into versions and defective variants."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml.deploy.http import is_ready
from tests.deploy.bundles import copy_as_version, free_ports, train_bundle, write_deploy_params
from tests.deploy.hostenv import HostDeployEnv, wait_until


@pytest.fixture(scope="session")
def deploy_workspace(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> tuple[Path, Path]:
    """(params.yaml, trained bundle) shared by every deploy test."""
    root = tmp_path_factory.mktemp("deploy-ws")
    params = write_deploy_params(root, sample_csv)
    return params, train_bundle(params, root / "base-model")


@pytest.fixture(scope="module")
def host_env(tmp_path_factory: pytest.TempPathFactory, deploy_workspace: tuple[Path, Path]):
    params, bundle = deploy_workspace
    env = HostDeployEnv(tmp_path_factory.mktemp("host"), params, bundle)
    yield env
    env.down()


@pytest.fixture(scope="session")
def model_server(tmp_path_factory, deploy_workspace):
    """One real model server serving v7: the smoke test target, and every "pod" the kubectl stand-in forwards to."""
    params, base = deploy_workspace
    root = tmp_path_factory.mktemp("served")
    bundle = copy_as_version(base, root / "v7", 7)
    (port,) = free_ports(1)
    env = {**os.environ, "MODEL_DIR": str(bundle), "PARAMS": str(params)}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "serving.app:app", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: is_ready(f"http://127.0.0.1:{port}"), 60), "model server did not start"
    yield bundle, port
    server.terminate()
    server.wait(20)
